"""Send-path benchmark: messages per second through ``kirem serve`` and its sandbox.

Starts a real server on a free loopback port (SQLite in a temp folder, sandbox on), bootstraps a
project, then for a fixed number of requests at a fixed concurrency measures:

- baseline: ``GET /healthz`` (the HTTP stack alone, same process, same client);
- send: ``POST /v1/messages`` (auth, validation, quota, log, Graph call to the sandbox, log update);
- the server's resident memory idle and after the run.

Run: ``.venv/bin/python bench/send_path.py [--requests 2000] [--concurrency 16] [--database-url URL]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.conftest import start_server, stop_server


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def hammer(
    url: str, total: int, concurrency: int, method: str, path: str, **kwargs
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.request(method, path, **kwargs)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 300:
                    raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def report(name: str, total: int, elapsed: float, latencies: list[float]) -> float:
    rate = total / elapsed
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{name:<10} {rate:8.1f} req/s   p50 {cuts[49] * 1000:6.1f} ms   p99 {cuts[98] * 1000:6.1f} ms")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--database-url", help="default: a fresh SQLite file; or an empty PostgreSQL database"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-"))
    process, server = start_server(
        tmp,
        args.database_url or f"sqlite+aiosqlite:///{tmp / 'kirem.db'}",
        KIREM_RATE_LIMIT_PER_SECOND="100000",
        KIREM_SANDBOX_THROUGHPUT_PER_SECOND="100000",
        KIREM_SANDBOX_STATUS_DELAY_SECONDS="0.2",
    )
    try:
        boot = server.bootstrap(plan="scale")
        headers = {"Authorization": f"Bearer {boot['api_key']}"}
        body = {
            "messaging_product": "whatsapp",
            "to": "6281234",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
        idle = rss_mb(process.pid)
        base_elapsed, base_lat = asyncio.run(
            hammer(server.url, args.requests, args.concurrency, "GET", "/healthz")
        )
        send_elapsed, send_lat = asyncio.run(
            hammer(
                server.url,
                args.requests,
                args.concurrency,
                "POST",
                "/v1/messages",
                json=body,
                headers=headers,
            )
        )
        time.sleep(2)
        after = rss_mb(process.pid)
        engine = "postgresql" if args.database_url else "sqlite"
        print(f"{engine}: requests {args.requests}, concurrency {args.concurrency}, cpus {os.cpu_count()}")
        base = report("healthz", args.requests, base_elapsed, base_lat)
        send = report("send", args.requests, send_elapsed, send_lat)
        print(f"send / healthz throughput ratio: {send / base:.3f}")
        print(f"server RSS: idle {idle:.0f} MB, after run {after:.0f} MB")
    finally:
        stop_server(process)


if __name__ == "__main__":
    main()
