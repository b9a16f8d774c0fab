"""Dashboard page latency with 10,000 message logs, 10,000 deliveries and 1,000 conversations.

Starts ``kirem serve``, bootstraps a project with an owner, inserts ``--rows`` message logs and as
many events, deliveries and delivery attempts spread over six days (a tenth failed), and
``--conversations`` conversations the logs belong to, signs in and requests each page
``--requests`` times in turn, then exports the logs as CSV. Prints the median and 95th
percentile of each page's answer time, the server's CPU per request, and the export's time. Pages
must answer in under 300 ms (issue 13); run on an idle machine for times worth comparing.

Run: ``.venv/bin/python bench/dashboard.py [--database-url URL] [--rows 10000] [--conversations 1000]
[--requests 30]``
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import cpu_seconds, database, start_kirem

from kirem.config import Settings
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.tables import metadata

BATCH = 1_000
PASSWORD = "bench password 1234"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def conversation_id(project_id: str, n: int) -> str:
    """The seeded conversation number ``n`` of a project (the same id every time)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kirem-bench:{project_id}:{n}"))


async def seed(
    database_url: str, boot: dict[str, Any], target_id: str, url: str, rows: int, conversations: int
) -> None:
    """``rows`` message logs (a tenth failed) and as many events, deliveries and attempts, over 6 days,
    the logs spread over ``conversations`` conversations of the project's channel."""
    project_id = boot["project_id"]
    db = Database(Settings(database_url=database_url))
    now = utcnow()
    chats = [
        {
            "id": conversation_id(project_id, n),
            "project_id": project_id,
            "channel_id": boot["channel_id"],
            "customer_wa_id": f"62813{n:07d}",
            "customer_name": f"Customer {n}",
            "status": "open",
            "last_customer_message_at": now - timedelta(minutes=n),
            "updated_at": now - timedelta(minutes=n),
            "created_at": now - timedelta(days=6),
        }
        for n in range(conversations)
    ]
    try:
        if chats:
            async with db.transaction() as session:
                await session.execute(insert(metadata.tables["conversations"]), chats)
        for start in range(0, rows, BATCH):
            logs: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            deliveries: list[dict[str, Any]] = []
            attempts: list[dict[str, Any]] = []
            for n in range(start, min(start + BATCH, rows)):
                at = now - timedelta(minutes=n * 0.8)
                failed = n % 10 == 0
                logs.append(
                    {
                        "id": f"msg_scale{n:08d}",
                        "project_id": project_id,
                        "message_id": f"wamid.scale{n}",
                        "recipient": f"62812{n % 500:05d}",
                        "sender": "6281000000",
                        "direction": "outbound" if n % 2 else "inbound",
                        "type": "text",
                        "status": "failed" if failed else "delivered",
                        "error_code": 131026 if failed else None,
                        "error_message": "Message undeliverable" if failed else None,
                        "conversation_id": chats[n % len(chats)]["id"] if chats else None,
                        "text": f"order {n}",
                        "occurred_at": at,
                        "updated_at": at,
                        "created_at": at,
                    }
                )
                body = b'{"event":"messages.received","data":{}}'
                events.append(
                    {
                        "id": f"evt_scale{n:08d}",
                        "project_id": project_id,
                        "type": "messages.received",
                        "dedup_key": f"scale:{n}",
                        "data": {"type": "text", "text": {"body": f"order {n}"}},
                        "facts": {},
                        "kirem_body": body,
                        "meta_body": body,
                        "created_at": at,
                    }
                )
                deliveries.append(
                    {
                        "id": f"dlv_scale{n:08d}",
                        "project_id": project_id,
                        "event_id": f"evt_scale{n:08d}",
                        "target_id": target_id,
                        "event_type": "messages.received",
                        "status": "failed" if failed else "succeeded",
                        "attempts": 1,
                        "next_attempt_at": at,
                        "last_status_code": 500 if failed else 200,
                        "completed_at": at,
                        "updated_at": at,
                        "created_at": at,
                    }
                )
                attempts.append(
                    {
                        "id": f"att_scale{n:08d}",
                        "project_id": project_id,
                        "delivery_id": f"dlv_scale{n:08d}",
                        "event_id": f"evt_scale{n:08d}",
                        "target_id": target_id,
                        "event_type": "messages.received",
                        "url": url,
                        "attempt": 1,
                        "status_code": 500 if failed else 200,
                        "duration_ms": 12,
                        "is_success": not failed,
                        "response_body": "ok",
                        "request_headers": {"Content-Type": "application/json"},
                        "created_at": at,
                    }
                )
            async with db.transaction() as session:
                for table, values in (
                    ("message_logs", logs),
                    ("events", events),
                    ("deliveries", deliveries),
                    ("delivery_attempts", attempts),
                ):
                    await session.execute(insert(metadata.tables[table]), values)
    finally:
        await db.dispose()


def sign_in(client: httpx.Client, email: str) -> None:
    form = client.get("/dashboard/login")
    token = _CSRF.search(form.text)
    assert token, "the sign-in page has no CSRF token"
    answer = client.post(
        "/dashboard/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if answer.status_code != 303:
        raise RuntimeError(f"sign-in failed: {answer.status_code}")


def timed(client: httpx.Client, path: str, requests: int, server_pid: int) -> tuple[float, float, float]:
    """Median and 95th percentile milliseconds of ``requests`` GETs of ``path`` (after one warm-up),
    and the server's CPU milliseconds per request (steadier than the times on a busy machine)."""
    client.get(path).raise_for_status()
    times = []
    cpu_before = cpu_seconds(server_pid)
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    cpu_ms = (cpu_seconds(server_pid) - cpu_before) * 1000 / requests
    times.sort()
    return statistics.median(times), times[max(0, round(len(times) * 0.95) - 1)], cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (a new database is made); SQLite by default")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with database(args.database_url, tmp) as url:
            server = start_kirem(tmp, url, KIREM_WORKER="false")
            try:
                boot = server.bootstrap()
                email = f"owner-{boot['account']}@example.com"
                server.cli(
                    "users", "create", email, "--account", boot["account"], "--owner", "--password", PASSWORD
                )
                with httpx.Client(base_url=server.url, timeout=300) as client:
                    target = client.post(
                        "/v1/webhooks/targets",
                        json={"url": "http://127.0.0.1:9/never", "enabled": False},
                        headers={"Authorization": f"Bearer {boot['api_key']}"},
                    ).json()["data"]
                    asyncio.run(seed(url, boot, target["id"], target["url"], args.rows, args.conversations))
                    sign_in(client, email)
                    base = f"/dashboard/p/{boot['project_id']}"
                    last_page = max(1, args.rows // 50)
                    pages = {
                        "message logs": f"{base}/logs",
                        "message logs, last page": f"{base}/logs?page={last_page}",
                        "message logs, failed": f"{base}/logs?status=failed",
                        "deliveries": f"{base}/deliveries",
                        "deliveries, failed": f"{base}/deliveries?status=failed",
                        "one delivery": f"{base}/deliveries/dlv_scale00000010",
                        "bulk replay confirmation": f"{base}/deliveries/replay?status=failed",
                        "analytics, 30 days": f"{base}/analytics?days=30",
                        "webhooks": f"{base}/webhooks",
                        "overview": f"{base}/overview",
                        "inbox": f"{base}/inbox",
                        "inbox, last page": f"{base}/inbox?page={max(1, args.conversations // 25)}",
                        "inbox, search by number": f"{base}/inbox?q=6281300000007",
                        "one conversation": f"{base}/inbox/{conversation_id(boot['project_id'], 7)}",
                        "keys": f"{base}/keys",
                        "settings": f"{base}/settings",
                        "sandbox simulator": f"{base}/sandbox",
                    }
                    print(
                        f"{args.rows} message logs and deliveries, {args.conversations} conversations, "
                        f"{args.requests} requests per page ({url.split(':')[0]})"
                    )
                    print(f"{'page':<28} {'median ms':>10} {'p95 ms':>8} {'cpu ms/req':>11}")
                    for name, path in pages.items():
                        median, p95, cpu_ms = timed(client, path, args.requests, server.process.pid)
                        print(f"{name:<28} {median:>10.1f} {p95:>8.1f} {cpu_ms:>11.2f}")
                    started = time.perf_counter()
                    exported = client.get(f"{base}/logs/export.csv")
                    exported.raise_for_status()
                    lines = exported.text.count("\n") - 1
                    print(f"CSV export: {lines} rows in {(time.perf_counter() - started) * 1000:.0f} ms")
            finally:
                server.stop()


if __name__ == "__main__":
    main()
