"""Process logs: text or one JSON object per line, with request ids, and never a credential.

Every line of every logger (Kirem's, uvicorn's access and error logs, libraries') goes through the
one root handler set up by :func:`configure_logging`, whose formatters pass the message and any
traceback through :func:`redact`.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from urllib.parse import unquote

import orjson

request_id_var: ContextVar[str | None] = ContextVar("kirem_request_id", default=None)

REDACTED = "[REDACTED]"
_SENSITIVE = re.compile(r"token|secret|passw|key|signature|auth|credential|cookie", re.IGNORECASE)
"""A parameter, field or header whose name matches this holds a credential."""
_QUERY_PAIR = re.compile(r"(?P<name>[\w.%\[\]-]+)=(?P<value>[^&\s\"'<>;,]+)")
"""``name=value`` as in query strings, form bodies and settings echoed in messages."""
_QUOTED_PAIR = re.compile(
    r"(?P<q>[\"'])(?P<name>[^\"'\s]{1,100})(?P=q)\s*:\s*(?P<vq>[\"'])(?P<value>(?:\\.|(?!(?P=vq)).)*)(?P=vq)"
)
"""``"name": "value"`` as in JSON bodies and dict reprs."""
_HEADER_LINE = re.compile(r"(?P<name>\b[\w-]+):[ \t]+(?P<value>[^\s,;\"'}]+)")
"""``Name: value`` as in an HTTP header echoed in a message."""
_AUTH_SCHEME = re.compile(r"\b(?P<scheme>Bearer|Basic|Digest|OAuth)\s+[\w.~+/=%-]+", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(?P<user>://[^/\s:@]+):[^/\s@]+@")
_TOKEN_SHAPES = re.compile(
    r"(?P<prefix>kirem(?:_|%5f)(?:live|test|acct)(?:_|%5f)|whsec_|EAA)[A-Za-z0-9+/=%]{6,}", re.IGNORECASE
)
"""Kirem's API keys and account tokens, webhook secrets and Meta access tokens, wherever they appear."""


def _named(match: re.Match[str]) -> str:
    if not _SENSITIVE.search(unquote(match["name"])):
        return match[0]
    start, end = match.span("value")
    return match[0][: start - match.start()] + REDACTED + match[0][end - match.start() :]


def redact(text: str) -> str:
    """``text`` with every credential it names or shows replaced by ``[REDACTED]``."""
    text = _TOKEN_SHAPES.sub(lambda m: m["prefix"] + REDACTED, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m['scheme']} {REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['user']}:{REDACTED}@", text)
    for pattern in (_QUERY_PAIR, _QUOTED_PAIR, _HEADER_LINE):
        text = pattern.sub(_named, text)
    return text


class RedactingFormatter(logging.Formatter):
    """The standard text line, message and traceback redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return orjson.dumps(entry).decode()


def configure_logging(level: str, fmt: str) -> dict[str, object]:
    """Set up the root logger; return a uvicorn ``log_config`` that logs through it."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            "uvicorn": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level.upper(), "handlers": [], "propagate": True},
        },
    }
