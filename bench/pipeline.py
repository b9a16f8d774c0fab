"""The processing pipeline alone, in-process: stored webhooks turned into events and deliveries.

No HTTP and no delivery worker: ``--events`` signed-webhook bodies (one customer message each) are
stored as raw events, then processed batch after batch by ``kirem.pipeline.processor``
(``--targets`` targets, no rules, so every event gets one delivery per target). Prints events/s and
the SQL statements the database received per batch, so the set-based stages can be checked on
their own, whatever else the machine runs, and this process's CPU time per event (the steadier
figure on a shared machine).

Run: ``.venv/bin/python bench/pipeline.py [--database-url URL] [--events 2000] [--targets 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import event, func, insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import database
from bench.ingest import PHONE_NUMBER_ID, WABA_ID, webhook

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.delivery.models import Delivery
from kirem.inbound.models import RawEvent
from kirem.pipeline import processor
from kirem.routing.models import WebhookTarget
from kirem.tables import metadata
from kirem.tenancy import service


async def run(url: str, tmp: Path, events: int, targets: int) -> tuple[float, float, Counter[str], int]:
    ctx = context_for(Settings(database_url=url, data_dir=tmp))
    try:
        async with ctx.db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        async with ctx.db.transaction() as session:
            account = await service.create_account(session, "bench", "growth")
            project = await service.create_project(session, ctx.sealer, account, "main")
            channel = {"phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID, "access_token": "x"}
            await service.add_channel(session, ctx.sealer, project, kind="live", **channel)
            for index in range(targets):
                session.add(WebhookTarget(project_id=project.id, url=f"http://127.0.0.1:9/t/{index}"))
        rows = [
            {"source": "meta", "body": webhook(i, "P"), "status": "pending", "attempts": 0}
            for i in range(events)
        ]
        async with ctx.db.transaction() as session:
            await session.execute(insert(RawEvent.__table__), rows)
        statements: Counter[str] = Counter()

        @event.listens_for(ctx.db.engine.sync_engine, "before_cursor_execute")
        def count(_conn, _cursor, statement, _params, _context, _many) -> None:  # type: ignore[no-untyped-def]
            statements[statement.split(None, 1)[0].upper()] += 1

        began, cpu_began = time.perf_counter(), time.process_time()
        while await processor.process_pending(ctx):
            pass
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        async with ctx.db.session() as session:
            delivered = int(await session.scalar(select(func.count()).select_from(Delivery)) or 0)
        return seconds, cpu, statements, delivered
    finally:
        await ctx.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file; else a PostgreSQL server URL")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--targets", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-pipeline-"))
    with database(args.database_url, tmp) as url:
        seconds, cpu, statements, delivered = asyncio.run(run(url, tmp, args.events, args.targets))
    batches = -(-args.events // processor.BATCH_SIZE)
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{args.events} webhooks x {args.targets} targets on {engine}, batches of {processor.BATCH_SIZE}:")
    print(f"  processed  {args.events / seconds:9.1f} events/s  ({seconds:.2f} s, {delivered} deliveries)")
    print(f"  CPU        {cpu * 1000 / args.events:9.3f} ms per event (this process, all its threads)")
    total = sum(statements.values())
    shown = ", ".join(f"{kind} {n / batches:.1f}" for kind, n in statements.most_common())
    print(f"  statements {total / batches:9.1f} per batch ({shown}); {total / args.events:.2f} per event")


if __name__ == "__main__":
    main()
