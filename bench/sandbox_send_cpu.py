"""CPU per sandbox send with its three status webhooks processed, in one process, 32 in flight.

The whole app with its lifespan (the worker, the sandbox's outbox handing the statuses to Kirem's
ingest in process, the pipeline) and sends driven straight into its ASGI entry: the process's CPU
(`time.process_time`, both threads) from the first send until every send is ``read``, per send. A
figure the machine's load moves much less than the wrk bench's rates, for back-to-back comparisons:

    .venv/bin/python bench/sandbox_send_cpu.py [--sends 1500] [--database-url postgresql://…]
    PYTHONPATH=/path/to/base/src:/path/to/base .venv/bin/python bench/sandbox_send_cpu.py   # base code
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database
from sqlalchemy import func, select

from kirem.app import create_app
from kirem.config import Settings
from kirem.crypto import generate_key_spec
from kirem.db.migrate import upgrade_async
from kirem.heap import prepare_heap
from kirem.messaging.models import MessageLog
from kirem.tenancy.bootstrap import bootstrap

IN_FLIGHT = 32


def scope(body: bytes, api_key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/messages",
        "raw_path": b"/v1/messages",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"authorization", f"Bearer {api_key}".encode()),
            (b"content-type", b"application/json"),
            (b"host", b"kirem"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def send_one(app: Any, api_key: str, index: int) -> None:
    body = json.dumps(
        {
            "messaging_product": "whatsapp",
            "to": f"628{index:09d}",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
    ).encode()
    delivered = False
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope(body, api_key), receive, send)
    assert status == [201], status


async def read_count(app: Any) -> int:
    async with app.state.ctx.db.session() as session:
        stmt = select(func.count()).select_from(MessageLog).where(MessageLog.status == "read")
        return int(await session.scalar(stmt) or 0)


async def measure(tmp: Path, database_url: str, sends: int, rounds: int) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp / "data",
        encryption_key=generate_key_spec("bench"),
        rate_limit_per_second=1e6,
        sandbox_throughput_per_second=1e6,
        log_level="warning",
    )
    await upgrade_async(settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        boot = await bootstrap(app.state.ctx, "bench", "main", "enterprise")
        numbers = itertools.count()
        prepare_heap()  # as kirem serve does
        for round_ in range(rounds + 1):
            queue = iter(range(sends))

            async def sender(queue: Iterator[int]) -> None:
                for _ in queue:
                    await send_one(app, boot["api_key"], next(numbers))

            expected = await read_count(app) + sends
            started, cpu = time.monotonic(), time.process_time()
            await asyncio.gather(*(sender(queue) for _ in range(IN_FLIGHT)))
            sent_cpu, sent_at = time.process_time() - cpu, time.monotonic() - started
            while await read_count(app) < expected:  # noqa: ASYNC110 - the database is what tells
                await asyncio.sleep(0.05)
            total_cpu, total = time.process_time() - cpu, time.monotonic() - started
            if round_:  # the first round warms the caches up
                print(
                    f"{sends} sends: {sent_cpu * 1000 / sends:.2f} ms CPU per send until answered "
                    f"({sends / sent_at:.0f}/s), {total_cpu * 1000 / sends:.2f} ms per send with its "
                    f"statuses processed ({sends / total:.0f}/s)"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-sbx-cpu-"))
    with database(args.database_url, tmp) as url:
        asyncio.run(measure(tmp, url, args.sends, args.rounds))


if __name__ == "__main__":
    main()
