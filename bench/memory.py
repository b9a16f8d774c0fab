"""Memory soak: one ``kirem serve`` ingesting, processing and fanning out round after round, its
resident memory after each round beside the rows it has stored.

Starts ``kirem serve`` (sandbox off, worker on) with a live channel and ``--targets`` targets
pointing at the fan-out bench's loopback consumer. Each round replays ``--bodies`` new signed
webhooks (one inbound message each, ids never seen before) with ``wrk`` for ``--seconds`` while the
worker processes and delivers them, waits until every stored event is processed and delivered, then
reads the server's resident memory. Prints, per round, the events and deliveries stored so far, the
peak RSS during the round and the RSS once the round has drained: flat RSS while the stored rows grow
round after round is what issue 8 asks ("flat after, no growth with stored rows").

Run: ``.venv/bin/python bench/memory.py [--database-url URL] [--rounds 6] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fanout import consumer_stats, serve_consumer, set_up
from bench.harness import RssSampler, database, free_port, max_rss_mb, run_wrk, start_kirem
from bench.ingest import APP_SECRET, signed_webhooks

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.delivery.models import DeliveryAttempt
from kirem.inbound.models import Event, RawEvent


async def stored(database_url: str) -> tuple[int, int, int]:
    """Raw events still pending, events stored, delivery attempts stored."""
    db = Database(Settings(database_url=database_url))
    try:
        async with db.session() as session:
            pending = await session.scalar(
                select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
            )
            events = await session.scalar(select(func.count()).select_from(Event))
            attempts = await session.scalar(select(func.count()).select_from(DeliveryAttempt))
    finally:
        await db.dispose()
    return int(pending or 0), int(events or 0), int(attempts or 0)


async def drained(database_url: str, consumer_url: str, before: int, targets: int) -> tuple[int, int]:
    """Once nothing is pending and the consumer has had ``targets`` deliveries of every event stored
    after the first ``before`` since its last reset: the events and delivery attempts stored."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        pending, events, attempts = await stored(database_url)
        if pending == 0 and (await consumer_stats(consumer_url))["count"] >= (events - before) * targets:
            return events, attempts
    raise RuntimeError("a round did not drain in 15 minutes")


async def reset(consumer_url: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{consumer_url}/reset") as response:
        response.raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file; else a PostgreSQL server URL")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10, help="wrk's length per round")
    parser.add_argument("--bodies", type=int, default=30000, help="new webhooks per round (wrk cycles them)")
    parser.add_argument("--targets", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-memory-"))
    consumer_port = free_port()
    consumer = multiprocessing.Process(target=serve_consumer, args=(consumer_port,), daemon=True)
    consumer.start()
    consumer_url = f"http://127.0.0.1:{consumer_port}"
    with database(args.database_url, tmp) as url:
        kirem = start_kirem(tmp, url, KIREM_SANDBOX="false", KIREM_META_APP_SECRET=APP_SECRET)
        try:
            set_up(kirem, consumer_url, args.targets)
            time.sleep(2)
            rows = [("start", 0, 0, 0.0, max_rss_mb(kirem.process.pid))]
            events = 0
            for round_ in range(1, args.rounds + 1):
                requests = signed_webhooks(args.bodies, f"M{round_}x")
                before = events
                with RssSampler(kirem.process.pid) as sampler:
                    run_wrk(f"round {round_}", kirem.url, requests, seconds=args.seconds)
                    events, attempts = asyncio.run(drained(url, consumer_url, before, args.targets))
                asyncio.run(reset(consumer_url))
                time.sleep(2)
                rows.append((str(round_), events, attempts, sampler.peak, max_rss_mb(kirem.process.pid)))
        finally:
            kirem.stop()
            consumer.terminate()
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(
        f"\nmemory soak on {engine}: {args.rounds} rounds of wrk (1 thread, 32 connections, "
        f"{args.seconds:g} s, {args.bodies} new webhooks each) x {args.targets} targets, worker on"
    )
    print(f"{'round':>6} {'events':>9} {'attempts':>9} {'peak MB':>8} {'drained MB':>11}")
    for name, events, attempts, peak, after in rows:
        print(f"{name:>6} {events:>9} {attempts:>9} {peak:>8.0f} {after:>11.0f}")
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
