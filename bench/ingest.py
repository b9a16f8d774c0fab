"""Ingest benchmark: signed Meta webhooks into ``POST /webhooks/meta``, beside a bare endpoint.

Starts ``kirem serve`` (sandbox off) and the harness's bare FastAPI endpoint, precomputes
``--bodies`` distinct signed webhooks (one inbound text message each, its own message id), and
replays them with ``wrk`` (1 thread, ``--connections``, ``--seconds``): first to the bare endpoint,
then to Kirem, which commits each raw body before its 200. By default the processing worker is off
so the figure is the ingest path alone; ``--processing`` leaves it on (it then competes for the
same cores and the same database). ``--profile FILE`` samples the server with py-spy during the
run and prints where its time went. Prints the table of the harness (absolute figures and share of
the bare endpoint, server CPU per request), the server's resident memory (idle, peak during the run,
2 s after it) and the machine's load average (the cores are often shared: read the share of bare
and the CPU per request).

``--in-process`` drives the ASGI app directly instead (6,000 webhooks, ``--connections`` at a time,
no HTTP server and no wrk) and prints the app's CPU per webhook, a figure a busy machine bends less.

Run: ``.venv/bin/python bench/ingest.py [--database-url URL] [--seconds 10] [--connections 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    KIREM,
    Request,
    RssSampler,
    database,
    free_port,
    kirem_env,
    print_table,
    rss_mb,
    run_wrk,
    start_bare,
    start_kirem,
    stop_process,
)
from bench.profile import profiled

from kirem.meta.signatures import sign

APP_SECRET = "bench-app-secret"
PHONE_NUMBER_ID = "109999999999999"
WABA_ID = "209999999999999"


def webhook(index: int, run: str) -> bytes:
    """Meta's envelope of one inbound text message with its own id."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": "62812345678"}],
        "messages": [
            {
                "from": "62812345678",
                "id": f"wamid.BENCH{run}{index}",
                "timestamp": "1750000000",
                "type": "text",
                "text": {"body": f"pesan {index}"},
            }
        ],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


def signed_webhooks(count: int, run: str) -> list[Request]:
    requests = []
    for index in range(count):
        body = webhook(index, run)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(APP_SECRET, body)}
        requests.append(Request("POST", "/webhooks/meta", headers, body))
    return requests


def in_process(url: str, tmp: Path, requests: list[Request], connections: int) -> None:
    """The app's own CPU per webhook: ``requests`` through the ASGI app, ``connections`` at a time.

    No HTTP server and no load generator share the measure, so it holds on a busy machine too.
    """
    env = kirem_env(tmp, url, free_port(), KIREM_SANDBOX="false", KIREM_WORKER="false")
    subprocess.run([KIREM, "migrate"], env=env, check=True, capture_output=True)
    os.environ.update(env)
    from kirem.app import create_app
    from kirem.config import Settings

    app = create_app(Settings())

    async def post(request: Request) -> None:
        headers = [(name.lower().encode(), value.encode()) for name, value in request.headers.items()]
        headers.append((b"content-length", str(len(request.body)).encode()))
        scope = {
            "type": "http",
            "method": "POST",
            "path": request.path,
            "query_string": b"",
            "headers": headers,
        }
        messages = [{"type": "http.request", "body": request.body, "more_body": False}]
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        if statuses != [200]:
            raise RuntimeError(f"webhook answered {statuses}")

    async def run() -> None:
        async with app.router.lifespan_context(app):
            for request in requests[:200]:  # warm-up
                await post(request)
            waiting = list(requests[200:])

            async def connection() -> None:
                while waiting:
                    await post(waiting.pop())

            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(connection() for _ in range(connections)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        count = len(requests) - 200
        print(f"in-process, {connections} at a time: {count} webhooks, {cpu * 1000 / count:.3f} ms CPU each")
        print(f"({count / wall:.0f}/s on the wall clock)")

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a fresh SQLite file; else a PostgreSQL server URL")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bodies", type=int, default=20000, help="distinct signed webhooks to cycle through")
    parser.add_argument("--processing", action="store_true", help="keep the processing worker on")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the server during the run into FILE")
    parser.add_argument(
        "--in-process", action="store_true", help="only the app's CPU per webhook, without HTTP or wrk"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-ingest-"))
    requests = signed_webhooks(args.bodies, "I")
    with database(args.database_url, tmp) as url:
        if args.in_process:
            in_process(url, tmp, requests[:6000], args.connections)
            return
        bare_process, bare_url = start_bare()
        try:
            bare = run_wrk(
                "bare FastAPI",
                bare_url,
                requests,
                connections=args.connections,
                seconds=args.seconds,
                server_pid=bare_process.pid,
            )
        finally:
            stop_process(bare_process)
        kirem = start_kirem(
            tmp,
            url,
            KIREM_SANDBOX="false",
            KIREM_META_APP_SECRET=APP_SECRET,
            KIREM_WORKER="true" if args.processing else "false",
        )
        try:
            idle = rss_mb(kirem.process.pid)
            run_wrk("warm-up", kirem.url, requests[:200], connections=args.connections, seconds=1)
            with (
                RssSampler(kirem.process.pid) as sampler,
                profiled(kirem.process.pid, args.profile, args.seconds),
            ):
                ingest = run_wrk(
                    "POST /webhooks/meta",
                    kirem.url,
                    requests,
                    connections=args.connections,
                    seconds=args.seconds,
                    server_pid=kirem.process.pid,
                )
            time.sleep(2)
            after = rss_mb(kirem.process.pid)
        finally:
            kirem.stop()
    engine = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    worker = "on" if args.processing else "off"
    print_table(
        f"ingest on {engine}: wrk 1 thread, {args.connections} connections, {args.seconds:g} s, "
        f"{args.bodies} distinct signed webhooks, processing worker {worker}",
        [ingest],
        bare,
    )
    print(f"kirem RSS: idle {idle:.0f} MB, peak {sampler.peak:.0f} MB, 2 s after the run {after:.0f} MB")
    print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
