"""The sandbox under crashes: every webhook it answered for reaches Kirem, as Meta's retries ensure."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Server, auth, free_port, start_server, stop_server
from tests.e2e.test_routing import inbound

MESSAGES = 40
FAST_LEASES = {"KIREM_SANDBOX_WEBHOOK_LEASE_SECONDS": "3", "KIREM_INBOUND_LEASE_SECONDS": "2"}


def received_wamids(server: Server, key: str) -> set[str]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.get(
            "/v1/events", params={"event": "messages.received", "limit": 100}, headers=auth(key)
        )
    assert answer.status_code == 200, answer.text
    return {event["data"]["message_id"] for event in answer.json()["data"]["events"]}


def wait_for_wamids(server: Server, key: str, wamids: set[str], timeout: float = 60.0) -> set[str]:
    deadline = time.monotonic() + timeout
    seen = received_wamids(server, key)
    while not wamids <= seen and time.monotonic() < deadline:
        time.sleep(0.2)
        seen = received_wamids(server, key)
    return seen


def post_burst(server: Server, boot: dict[str, Any]) -> set[str]:
    """``MESSAGES`` simulator messages from eight customers at once; their answered wamids."""
    with httpx.Client(base_url=server.url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        return set(
            pool.map(
                lambda i: inbound(
                    client,
                    boot,
                    {"type": "text", "text": {"body": f"pesan {i}"}},
                    sender=f"6281234500{i % 8}",
                ),
                range(MESSAGES),
            )
        )


def kill(process: Any) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_answered_simulator_messages_reach_kirem_after_a_kill_9(tmp_path: Path, database_url: str) -> None:
    process, server = start_server(tmp_path, database_url, **FAST_LEASES)
    try:
        boot = server.bootstrap(plan="growth")
        wamids = post_burst(server, boot)
    finally:
        kill(process)  # right after the last answer
    same_key = {"KIREM_ENCRYPTION_KEY": server.env["KIREM_ENCRYPTION_KEY"]}
    process, server = start_server(tmp_path, database_url, **FAST_LEASES, **same_key)
    try:
        assert len(wamids) == MESSAGES
        missing = wamids - wait_for_wamids(server, boot["api_key"], wamids)
        assert not missing, f"{len(missing)} answered messages never reached /webhooks/meta"
    finally:
        stop_server(process)


def test_webhooks_wait_out_an_unreachable_kirem_and_a_crash(tmp_path: Path, database_url: str) -> None:
    """Kirem's callback URL is down while the sandbox answers, then the sandbox is killed: the
    webhooks are posted once a restarted sandbox can reach Kirem."""
    down = {"KIREM_PUBLIC_URL": f"http://127.0.0.1:{free_port()}"}
    process, server = start_server(tmp_path, database_url, **FAST_LEASES, **down)
    try:
        boot = server.bootstrap(plan="growth")
        wamids = post_burst(server, boot)
        time.sleep(1.0)  # the sandbox tries (and fails) to post them meanwhile
    finally:
        kill(process)
    same_key = {"KIREM_ENCRYPTION_KEY": server.env["KIREM_ENCRYPTION_KEY"]}
    process, server = start_server(tmp_path, database_url, **FAST_LEASES, **same_key)
    try:
        missing = wamids - wait_for_wamids(server, boot["api_key"], wamids)
        assert not missing, f"{len(missing)} answered messages never reached /webhooks/meta"
    finally:
        stop_server(process)
