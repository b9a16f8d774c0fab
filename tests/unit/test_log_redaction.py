"""No credential reaches a log line, whatever logger wrote it and in whichever format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from kirem.logs import REDACTED, configure_logging, redact

KEY = "kirem_live_Zx81kQ0pLmN2vB7cR4tY6uW9eA3sD5fG"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f'127.0.0.1:5000 - "GET /v1/messages?access_token={KEY}&limit=5 HTTP/1.1" 200', KEY),
        ("GET /v1/x?access%5Ftoken=kirem%5Flive%5FZx81kQ0pLmN2vB7c&limit=5", "Zx81kQ0pLmN2vB7c"),
        ("GET /webhooks/meta?hub.mode=subscribe&hub.verify_token=my-verify&hub.challenge=1", "my-verify"),
        ("GET https://hooks.example.com/in?token=t0p-s3cret&x=1", "t0p-s3cret"),
        ("request headers: {'Authorization': 'Bearer abc.def.ghi', 'Accept': '*/*'}", "abc.def.ghi"),
        ('body {"access_token": "EAAGm0PX4ZCpsBA", "to": "628"}', "EAAGm0PX4ZCpsBA"),
        ('body {"webhook_secret": "whsec_QkFTRTY0c2VjcmV0", "id": "prj"}', "QkFTRTY0c2VjcmV0"),
        ("Authorization: Bearer sk-live-123456", "sk-live-123456"),
        ("X-Api-Key: 0a1b2c3d4e", "0a1b2c3d4e"),
        ("connecting to postgresql://kirem:hunter2@db:5432/kirem", "hunter2"),
        (f"the key {KEY} was revoked", KEY[11:]),
    ],
)
def test_credentials_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned and REDACTED in cleaned


def test_ordinary_lines_are_left_alone() -> None:
    line = '127.0.0.1:5000 - "GET /v1/messages?limit=5&offset=10&status=read HTTP/1.1" 200'
    assert redact(line) == line


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_logger_goes_through_redaction(fmt: str, captured: io.StringIO) -> None:
    configure_logging("info", fmt)
    logging.getLogger().handlers[0].setStream(captured)  # type: ignore[attr-defined]
    access = logging.getLogger("uvicorn.access")
    access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", f"/v1/x?access_token={KEY}", "1.1", 200)
    try:
        raise RuntimeError(f"Graph refused https://graph.example/v1?access_token={KEY}")
    except RuntimeError:
        logging.getLogger("kirem.api").exception(
            "unhandled error with %s", {"Authorization": f"Bearer {KEY}"}
        )
    text = captured.getvalue()
    assert KEY[11:] not in text and text.count(REDACTED) >= 3
    if fmt == "json":
        assert all(json.loads(line)["level"] for line in text.splitlines() if line.startswith("{"))
