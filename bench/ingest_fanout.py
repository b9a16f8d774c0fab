"""Ingest and fan-out benchmark: Meta webhooks in, signed deliveries out, through ``kirem serve``.

Starts a real server (sandbox off, worker on) on a free loopback port and an aiohttp consumer that
answers 200 at once, creates ``--targets`` targets, then posts ``--events`` signed Meta webhooks
(one inbound text message each) at ``--concurrency``. It prints:

- baseline: ``GET /healthz`` throughput (the HTTP stack alone, same client, same run);
- ingest: ``POST /webhooks/meta`` answered per second (raw body committed before each 200);
- fan-out: deliveries received by the consumer per second, from the first POST to the last delivery;
- the server's resident memory idle, after ingest, and after fan-out.

Run: ``.venv/bin/python bench/ingest_fanout.py [--events 2000] [--targets 3] [--concurrency 32]
[--database-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.send_path import hammer, report, rss_mb
from tests.e2e.conftest import start_server, stop_server

from kirem.meta.signatures import sign

APP_SECRET = "bench-app-secret"


def envelope(phone_number_id: str, waba_id: str, index: int) -> bytes:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": "62812345678"}],
        "messages": [
            {
                "from": "62812345678",
                "id": f"wamid.BENCH{index}",
                "timestamp": "1750000000",
                "type": "text",
                "text": {"body": f"pesan {index}"},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


async def consumer(expected: int) -> tuple[web.AppRunner, str, asyncio.Event, list[float]]:
    received: list[float] = []
    done = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        received.append(time.perf_counter())
        if len(received) >= expected:
            done.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", done, received


async def run(args: argparse.Namespace, server, process) -> None:  # type: ignore[no-untyped-def]
    boot = server.bootstrap(plan="scale")
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    expected = args.events * args.targets
    runner, url, done, received = await consumer(expected)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        channel = await client.post(
            f"/v1/manage/projects/{boot['project_id']}/channels",
            json={
                "kind": "live",
                "phone_number_id": "109999999999999",
                "waba_id": "209999999999999",
                "access_token": "x",
            },
            headers={"Authorization": f"Bearer {boot['account_token']}"},
        )
        channel.raise_for_status()
        for i in range(args.targets):
            (
                await client.post("/v1/webhooks/targets", json={"url": f"{url}/t{i}"}, headers=headers)
            ).raise_for_status()
    idle = rss_mb(process.pid)
    base_elapsed, base_lat = await hammer(server.url, args.events, args.concurrency, "GET", "/healthz")
    bodies = [envelope("109999999999999", "209999999999999", i) for i in range(args.events)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:

        async def post() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post(
                    "/webhooks/meta", content=body, headers={"X-Hub-Signature-256": sign(APP_SECRET, body)}
                )
                latencies.append(time.perf_counter() - started)
                response.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(post() for _ in range(args.concurrency)))
        ingest_elapsed = time.perf_counter() - started
    after_ingest = rss_mb(process.pid)
    await asyncio.wait_for(done.wait(), timeout=600)
    fanout_elapsed = received[-1] - started
    after_fanout = rss_mb(process.pid)
    await runner.cleanup()
    engine = "postgresql" if args.database_url else "sqlite"
    print(f"{engine}: events {args.events}, targets {args.targets}, concurrency {args.concurrency}")
    base = report("healthz", args.events, base_elapsed, base_lat)
    ingest = report("ingest", args.events, ingest_elapsed, latencies)
    print(
        f"fan-out    {expected / fanout_elapsed:8.1f} deliveries/s "
        f"({expected} deliveries in {fanout_elapsed:.1f} s)"
    )
    print(f"ingest / healthz throughput ratio: {ingest / base:.3f}")
    print(
        f"server RSS: idle {idle:.0f} MB, after ingest {after_ingest:.0f} MB, "
        f"after fan-out {after_fanout:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--targets", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--database-url", help="default: a fresh SQLite file; or an empty PostgreSQL database"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-"))
    process, server = start_server(
        tmp,
        args.database_url or f"sqlite+aiosqlite:///{tmp / 'kirem.db'}",
        KIREM_SANDBOX="false",
        KIREM_META_APP_SECRET=APP_SECRET,
        KIREM_RATE_LIMIT_PER_SECOND="100000",
    )
    try:
        asyncio.run(run(args, server, process))
    finally:
        stop_server(process)


if __name__ == "__main__":
    main()
