"""CPU and time of the API's list reads (a page and its total) over 10,000 message logs.

Seeds a project as ``bench/dashboard.py`` does (``--rows`` message logs, events, deliveries and
attempts, ``--conversations`` conversations), stops the server, then calls the list services
in-process ``--calls`` times each, in turn: the first and last page of the message logs, the failed
ones, the first page of the deliveries and of the failed ones, the first and last page of the
conversations. Prints each list's median milliseconds and this process's CPU milliseconds per
call (on SQLite the database work runs in this process too; on PostgreSQL only the client side).

Run: ``.venv/bin/python bench/list_pages.py [--database-url URL] [--rows 10000] [--conversations 1000]
[--calls 200]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.dashboard import seed
from bench.harness import database, start_kirem

from kirem.analytics.messages import query_message_logs
from kirem.config import Settings
from kirem.conversations.service import list_conversations
from kirem.db.engine import Database
from kirem.delivery.deliveries import DeliveryFilter, list_deliveries
from kirem.kit.params import Window

PAGE = 50


def window(offset: int = 0) -> Window:
    return Window(since=None, until=None, limit=PAGE, offset=offset)


def lists(project_id: str, rows: int, conversations: int) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    last_logs, last_chats = max(0, rows - PAGE), max(0, conversations - PAGE)
    failed = DeliveryFilter(status="failed")
    return {
        "message logs": lambda s: query_message_logs(s, project_id, window(), {}),
        "message logs, last page": lambda s: query_message_logs(s, project_id, window(last_logs), {}),
        "message logs, failed": lambda s: query_message_logs(s, project_id, window(), {"status": "failed"}),
        "deliveries": lambda s: list_deliveries(s, project_id, DeliveryFilter(), window()),
        "deliveries, failed": lambda s: list_deliveries(s, project_id, failed, window()),
        "conversations": lambda s: list_conversations(s, project_id, status=None, limit=PAGE, offset=0),
        "conversations, last page": lambda s: list_conversations(
            s, project_id, status=None, limit=PAGE, offset=last_chats
        ),
    }


async def measure(url: str, project_id: str, rows: int, conversations: int, calls: int) -> None:
    db = Database(Settings(database_url=url))
    try:
        print(f"{'list':<28} {'median ms':>10} {'cpu ms/call':>12}")
        for name, read in lists(project_id, rows, conversations).items():
            async with db.session() as session:
                await read(session)  # warm-up
                times = []
                cpu_before = time.process_time()
                for _ in range(calls):
                    started = time.perf_counter()
                    await read(session)
                    times.append((time.perf_counter() - started) * 1000)
                    await session.rollback()
                cpu_ms = (time.process_time() - cpu_before) * 1000 / calls
            print(f"{name:<28} {statistics.median(times):>10.2f} {cpu_ms:>12.2f}")
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (a new database is made); SQLite by default")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--conversations", type=int, default=1_000)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with database(args.database_url, tmp) as url:
            server = start_kirem(tmp, url, KIREM_WORKER="false")
            try:
                boot = server.bootstrap()
                with httpx.Client(base_url=server.url, timeout=300) as client:
                    target = client.post(
                        "/v1/webhooks/targets",
                        json={"url": "http://127.0.0.1:9/never", "enabled": False},
                        headers={"Authorization": f"Bearer {boot['api_key']}"},
                    ).json()["data"]
                asyncio.run(seed(url, boot, target["id"], target["url"], args.rows, args.conversations))
            finally:
                server.stop()
            print(
                f"{args.rows} message logs and deliveries, {args.conversations} conversations, "
                f"{args.calls} calls per list ({url.split(':')[0]})"
            )
            asyncio.run(measure(url, boot["project_id"], args.rows, args.conversations, args.calls))


if __name__ == "__main__":
    main()
