"""Structured logs from the real server: one JSON object per line, with the request id."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.e2e.conftest import start_server, stop_server


def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    process, server = start_server(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'kirem.db'}",
        KIREM_LOG_FORMAT="json",
        KIREM_LOG_LEVEL="info",
    )
    try:
        response = httpx.get(f"{server.url}/v1/nowhere", headers={"X-Request-Id": "trace-42"})
        assert response.status_code == 404
    finally:
        stop_server(process)
    entries = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert entries, server.log()
    assert all({"ts", "level", "logger", "message"} <= set(entry) for entry in entries)
    access = [e for e in entries if e["logger"] == "uvicorn.access" and "/v1/nowhere" in e["message"]]
    assert access and access[0]["request_id"] == "trace-42"
