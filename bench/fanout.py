"""Processing and fan-out benchmark: stored webhooks processed and delivered to loopback consumers.

Starts ``kirem serve`` (sandbox off) with a live channel and ``--targets`` targets (no rules: every
event to each) pointing at a consumer in its own process (plain asyncio HTTP/1.1, answering 200 at
once; its CPU is printed beside the server's), and
measures, beside the harness's bare endpoint (wrk, same run):

1. backlog: ``--events`` signed webhooks stored with the worker off, then the server restarted with
   the worker on; from its start, inbound events processed per second (until no raw event is
   pending) and deliveries per second (until the consumer has them all), and the server's CPU time
   per event with its deliveries (the steadier figure on a shared machine);
2. steady: webhooks posted at ``--rate`` per second for ``--seconds`` while the worker runs; for
   every delivery, the time from the 200 to Meta until the consumer has it (p50, p99, max).

The load average is printed at the start and the end: the machine may be shared.

Run: ``.venv/bin/python bench/fanout.py [--database-url URL] [--events 5000] [--rate 300]``
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    Kirem,
    cpu_seconds,
    database,
    free_port,
    print_table,
    rss_mb,
    run_wrk,
    start_bare,
    start_kirem,
    stop_process,
)
from bench.ingest import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, signed_webhooks, webhook
from bench.profile import profiled

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.inbound.models import RawEvent
from kirem.meta.signatures import sign


class ConsumerProtocol(asyncio.Protocol):
    """A bare HTTP/1.1 keep-alive server: ``POST /t/<name>`` is a delivery (answered 200 at once),
    ``GET /stats`` gives the count and each message id's arrival times, ``POST /reset`` clears them.

    Plain asyncio rather than a web framework, so the consumer's own CPU stays a small share of the
    machine's two cores beside the server it measures (the bench prints that share)."""

    arrivals: dict[str, list[float]] = {}
    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            lengths = [line[15:] for line in head[1:] if line.lower().startswith("content-length:")]
            length = int(lengths[0]) if lengths else 0
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.answer(head[0].split(" ")[1], body)

    def answer(self, path: str, body: bytes) -> None:
        cls = ConsumerProtocol
        content = b"ok"
        if path.startswith("/t/"):
            cls.count += 1
            message_id = orjson.loads(body)["data"].get("message_id", "")
            cls.arrivals.setdefault(message_id, []).append(time.monotonic())
        elif path == "/stats":
            content = orjson.dumps({"count": cls.count, "arrivals": cls.arrivals})
        elif path == "/reset":
            cls.count = 0
            cls.arrivals.clear()
        header = f"HTTP/1.1 200 OK\r\nContent-Length: {len(content)}\r\n\r\n".encode()
        assert isinstance(self.transport, asyncio.Transport)
        self.transport.write(header + content)


def serve_consumer(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(ConsumerProtocol, "127.0.0.1", port)
        await server.serve_forever()

    asyncio.run(serve())


async def consumer_stats(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/stats") as response:
        return orjson.loads(await response.read())  # type: ignore[no-any-return]


def set_up(kirem: Kirem, consumer_url: str, targets: int) -> None:
    import httpx

    boot = kirem.bootstrap()
    with httpx.Client(base_url=kirem.url, timeout=30) as client:
        client.post(
            f"/v1/manage/projects/{boot['project_id']}/channels",
            json={
                "kind": "live",
                "phone_number_id": PHONE_NUMBER_ID,
                "waba_id": WABA_ID,
                "access_token": "x",
                "verify": False,  # no Graph behind this bench: nothing to check the number with
            },
            headers={"Authorization": f"Bearer {boot['account_token']}"},
        ).raise_for_status()
        for index in range(targets):
            client.post(
                "/v1/webhooks/targets",
                json={"url": f"{consumer_url}/t/{index}"},
                headers={"Authorization": f"Bearer {boot['api_key']}"},
            ).raise_for_status()


async def post_all(url: str, bodies: list[bytes], concurrency: int = 32) -> None:
    queue = list(reversed(bodies))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(url, connector=connector) as http:

        async def post() -> None:
            while queue:
                body = queue.pop()
                headers = {"X-Hub-Signature-256": sign(APP_SECRET, body)}
                async with http.post("/webhooks/meta", data=body, headers=headers) as response:
                    response.raise_for_status()

        await asyncio.gather(*(post() for _ in range(concurrency)))


async def processing_span(database_url: str) -> tuple[int, float]:
    """Raw events still pending, and seconds between the first and the last processed batch."""
    db = Database(Settings(database_url=database_url))
    try:
        async with db.session() as session:
            pending = await session.scalar(
                select(func.count()).select_from(RawEvent).where(RawEvent.status == "pending")
            )
            first, last = (
                await session.execute(
                    select(func.min(RawEvent.processed_at), func.max(RawEvent.processed_at))
                )
            ).one()
    finally:
        await db.dispose()
    return int(pending or 0), (last - first).total_seconds() if first and last else 0.0


async def backlog(database_url: str, consumer_url: str, expected: int) -> tuple[float, float]:
    """Once all is processed and delivered: seconds from first to last processed batch and delivery."""
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        pending, processing = await processing_span(database_url)
        stats = await consumer_stats(consumer_url)
        if pending == 0 and stats["count"] >= expected:
            times = [t for each in stats["arrivals"].values() for t in each]
            return processing, max(times) - min(times)
    raise RuntimeError("backlog not done in 15 minutes")


async def steady(kirem_url: str, consumer_url: str, rate: float, seconds: float, targets: int) -> list[float]:
    """Post at ``rate``/s; return each delivery's milliseconds from the 200 until it arrived."""
    acknowledged: dict[str, float] = {}
    total = int(rate * seconds)
    async with aiohttp.ClientSession(kirem_url, connector=aiohttp.TCPConnector(limit=64)) as http:

        async def post(index: int) -> None:
            body = webhook(index, "S")
            headers = {"X-Hub-Signature-256": sign(APP_SECRET, body)}
            async with http.post("/webhooks/meta", data=body, headers=headers) as response:
                response.raise_for_status()
            acknowledged[f"wamid.BENCHS{index}"] = time.monotonic()

        began = time.monotonic()
        tasks = []
        for index in range(total):
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(index)))
        await asyncio.gather(*tasks)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (await consumer_stats(consumer_url))["count"] >= total * targets:
            break
        await asyncio.sleep(0.2)
    arrivals = (await consumer_stats(consumer_url))["arrivals"]
    return [
        (arrived - acknowledged[message_id]) * 1000
        for message_id, times in arrivals.items()
        if message_id in acknowledged
        for arrived in times
    ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file; else a PostgreSQL server URL")
    parser.add_argument("--events", type=int, default=5000, help="webhooks in the backlog")
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--rate", type=float, default=300, help="webhooks per second in the steady phase")
    parser.add_argument("--seconds", type=float, default=10, help="length of the steady phase and of wrk")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the server during the backlog into FILE")
    args = parser.parse_args()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-fanout-"))
    consumer_port = free_port()
    consumer = multiprocessing.Process(target=serve_consumer, args=(consumer_port,), daemon=True)
    consumer.start()
    consumer_pid = consumer.pid
    assert consumer_pid is not None
    consumer_url = f"http://127.0.0.1:{consumer_port}"
    env = {"KIREM_SANDBOX": "false", "KIREM_META_APP_SECRET": APP_SECRET}
    with database(args.database_url, tmp) as url:
        bare_process, bare_url = start_bare()
        try:
            bare = run_wrk("bare FastAPI", bare_url, signed_webhooks(2000, "W"), seconds=args.seconds)
        finally:
            stop_process(bare_process)
        kirem = start_kirem(tmp, url, KIREM_WORKER="false", **env)
        try:
            set_up(kirem, consumer_url, args.targets)
            asyncio.run(post_all(kirem.url, [webhook(i, "B") for i in range(args.events)]))
        finally:
            kirem.stop()
        expected = args.events * args.targets
        kirem = start_kirem(tmp, url, KIREM_WORKER="true", **env)
        try:
            cpu_before = cpu_seconds(kirem.process.pid)
            consumer_before = cpu_seconds(consumer_pid)
            with profiled(kirem.process.pid, args.profile, 10):
                processed, delivered = asyncio.run(backlog(url, consumer_url, expected))
            backlog_cpu = cpu_seconds(kirem.process.pid) - cpu_before
            consumer_cpu = cpu_seconds(consumer_pid) - consumer_before
            after_backlog = rss_mb(kirem.process.pid)
            asyncio.run(consumer_reset(consumer_url))
            latencies = asyncio.run(steady(kirem.url, consumer_url, args.rate, args.seconds, args.targets))
        finally:
            kirem.stop()
    consumer.terminate()
    consumer.join()
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print_table(f"bare endpoint on {engine} run (wrk 1 thread, 32 connections)", [], bare)
    print(
        f"\nbacklog of {args.events} webhooks x {args.targets} targets on {engine} "
        "(first to last processed batch; first to last delivery):"
    )
    print(f"  processed  {args.events / processed:9.1f} events/s      ({processed:.1f} s)")
    print(f"  delivered  {expected / delivered:9.1f} deliveries/s  ({delivered:.1f} s)")
    print(
        f"  of the bare endpoint's request/s: {args.events / processed / bare.rate:.1%} (events), "
        f"{expected / delivered / bare.rate:.1%} (deliveries)"
    )
    print(
        f"  server CPU {backlog_cpu * 1000 / args.events:.2f} ms per event with its {args.targets} "
        f"deliveries ({backlog_cpu:.1f} s from the restart until all was delivered)"
    )
    print(
        f"  consumer CPU {consumer_cpu:.1f} s over the same span ({consumer_cpu / backlog_cpu:.0%} of the "
        f"server's; {consumer_cpu * 1000 / expected:.3f} ms per delivery)"
    )
    print(
        f"\nsteady {args.rate:g} webhooks/s x {args.targets} targets for {args.seconds:g} s: "
        "from the 200 to Meta until the consumer has the delivery"
    )
    if latencies:
        print(
            f"  {len(latencies)} deliveries: p50 {statistics.median(latencies):.0f} ms, "
            f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms"
        )
    print(f"kirem RSS after the backlog {after_backlog:.0f} MB")
    load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min): start {load_before}, end {load_after}")


async def consumer_reset(url: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{url}/reset") as response:
        response.raise_for_status()


if __name__ == "__main__":
    main()
