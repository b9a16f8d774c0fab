"""A production-mode server with the sandbox on: closed simulator, redacted logs, private files."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ENGINES, create_postgres_database, drop_postgres_database
from tests.e2e.conftest import Server, auth, start_server, stop_server, wait_for

OPERATOR = "operator-e2e"


@pytest.fixture(scope="module", params=ENGINES)
async def production(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Server, Path | None]]:
    """``KIREM_ENV=production`` with ``KIREM_SANDBOX=1``, logging every request (JSON lines)."""
    tmp = tmp_path_factory.mktemp(f"production-{request.param}")
    db_file = tmp / "kirem.db" if request.param == "sqlite" else None
    url = f"sqlite+aiosqlite:///{db_file}" if db_file else await create_postgres_database()
    process, server = start_server(
        tmp, url, KIREM_ENV="production", KIREM_SANDBOX="1", KIREM_LOG_LEVEL="info"
    )
    try:
        yield server, db_file
    finally:
        stop_server(process)
        if db_file is None:
            await drop_postgres_database(url)


def _inbound(phone_number_id: str, text: str) -> dict[str, object]:
    return {
        "phone_number_id": phone_number_id,
        "from": "62812345678",
        "message": {"type": "text", "text": {"body": text}},
    }


def test_the_simulator_needs_the_operator_token_in_production(production: tuple[Server, Path | None]) -> None:
    server, _ = production
    boot = server.bootstrap()
    phone = boot["phone_number_id"]
    bodies = {
        "inbound": _inbound(phone, "forged"),
        "echo": {
            "phone_number_id": phone,
            "to": "62812345678",
            "message": {"type": "text", "text": {"body": "x"}},
        },
        "history": {"phone_number_id": phone, "threads": []},
        "contacts": {
            "phone_number_id": phone,
            "contacts": [{"phone_number": "62812345678", "action": "remove"}],
        },
    }
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for path, body in bodies.items():
            for headers, code in (({}, 104), (auth("wrong"), 190), (auth(boot["api_key"]), 190)):
                refused = http.post(f"/sandbox/v1/{path}", json=body, headers=headers)
                assert refused.status_code == 401, (path, headers, refused.text)
                assert refused.json()["error"]["code"] == code
        assert http.get("/v1/conversations", headers=auth(boot["api_key"])).json()["data"]["total"] == 0

        accepted = http.post("/sandbox/v1/inbound", json=_inbound(phone, "Halo"), headers=auth(OPERATOR))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["wamid"].startswith("wamid.")
        conversations = wait_for(
            lambda: http.get("/v1/conversations", headers=auth(boot["api_key"])).json()["data"][
                "conversations"
            ]
        )
        assert [c["customer_phone"] for c in conversations] == ["62812345678"]

    # the CLI sends KIREM_OPERATOR_TOKEN
    out = server.cli(
        "sandbox", "inbound", "--phone-number-id", phone, "--text", "dari CLI", "--url", server.url
    )
    assert json.loads(out.stdout)["wamid"].startswith("wamid.")
    no_token = {**server.env, "KIREM_OPERATOR_TOKEN": ""}
    refused = Server(server.url, no_token, server.log_path).cli(
        "sandbox", "echo", "--phone-number-id", phone, "--text", "x", "--url", server.url, check=False
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: ") and refused.stderr.rstrip().endswith("(401)")
    assert "sandbox" in server.log() and "KIREM_OPERATOR_TOKEN" in server.log()


def test_credentials_never_reach_the_server_log(production: tuple[Server, Path | None]) -> None:
    server, _ = production
    boot = server.bootstrap()
    key = boot["api_key"]
    marker = "redaction-probe"
    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.get(f"/v1/analytics/messages?access_token={key}&probe={marker}-1")
        http.get(f"/v23.0/{boot['phone_number_id']}?fields=id&access_token={key}&probe={marker}-2")
        encoded = key.replace("_", "%5F")
        http.get(f"/v1/analytics/messages?access%5Ftoken={encoded}&probe={marker}-3")
        http.get(
            f"/webhooks/meta?hub.mode=subscribe&hub.verify_token=verify-e2e&hub.challenge=7&probe={marker}-4"
        )
        http.get(f"/v1/analytics/messages?probe={marker}-5", headers=auth(key))
        http.post("/sandbox/v1/inbound", json={}, headers=auth(OPERATOR), params={"probe": f"{marker}-6"})
    assert wait_for(lambda: all(f"{marker}-{n}" in server.log() for n in range(1, 7))), server.log()[-3000:]
    log = server.log()
    for secret in (key, key.split("_", 2)[2], "verify-e2e", OPERATOR):
        assert secret not in log
    for n in range(1, 5):  # each of those requests' access line shows where its credential was
        access = [line for line in log.splitlines() if f"{marker}-{n}" in line and "uvicorn.access" in line]
        assert access and all("[REDACTED]" in line for line in access), (n, access)


@pytest.mark.parametrize("production", ["sqlite"], indirect=True)  # PostgreSQL keeps no file here
def test_the_sqlite_database_is_private(production: tuple[Server, Path | None]) -> None:
    _, db_file = production
    assert db_file is not None
    files = [db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
