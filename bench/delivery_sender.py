"""Delivery benchmark: webhook attempts per second through each ``WebhookSender`` implementation.

Starts a consumer in a separate process (aiohttp.web on uvloop, listening on ``--targets`` loopback
ports so that the senders see several hosts, as a gateway delivering to many tenants does; each
answers 200 after ``--delay`` ms). Then, in this process, fires ``--deliveries`` signed 1 KB
deliveries at each concurrency through ``AiohttpSender`` and ``HttpxSender`` (default settings:
1000 connections in all, 50 per host, keep-alive), after a warm-up, alternating which goes first
over ``--rounds`` rounds and keeping each one's best round. It prints deliveries/s, p50/p99
latency, the client's CPU time per delivery and the aiohttp/httpx throughput ratio.

Run: ``.venv/bin/python bench/delivery_sender.py [--deliveries 5000] [--concurrency 100 500]
[--delay 0] [--targets 10] [--rounds 3] [--timeout 30] [--loop asyncio|uvloop]``

A failure (``failures`` column) is an attempt that did not get its 200 within the timeout: on a
saturated client the requests queue behind the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from httpx_sender import HttpxSender

from kirem.delivery.sender import AiohttpSender, WebhookSender
from kirem.delivery.signing import sign_headers
from kirem.tenancy.tokens import generate_secret

SENDERS: dict[str, type] = {"aiohttp": AiohttpSender, "httpx": HttpxSender}


# --- consumer (child process) -------------------------------------------------------------------


async def serve(targets: int, delay_ms: float) -> None:
    import logging

    from aiohttp import web

    logging.getLogger("aiohttp").setLevel(logging.CRITICAL)  # a client giving up is not news here

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        return web.Response(text='{"ok":true}', content_type="application/json")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    ports = []
    for _ in range(targets):
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=2048)
        await site.start()
        ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    print(json.dumps({"ports": ports}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent goes
    await runner.cleanup()


# --- load generator ----------------------------------------------------------------------------


@dataclass
class Run:
    sender: str
    concurrency: int
    deliveries: int
    elapsed: float
    cpu: float
    latencies: list[float]
    failures: int

    @property
    def rate(self) -> float:
        return self.deliveries / self.elapsed

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def make_delivery(i: int, secret: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": f"evt_{i:08d}",
            "type": "messages.received",
            "created_at": "2025-05-01T12:00:00Z",
            "data": {"from": "15550001234", "text": "x" * 850, "message_id": f"wamid.{i:020d}"},
        },
        separators=(",", ":"),
    ).encode()
    headers = sign_headers(
        body=body,
        event_id=f"evt_{i:08d}",
        delivery_id=f"dlv_{i:08d}",
        event_type="messages.received",
        secrets=[secret],
        timestamp=int(time.time()),
        payload_format="kirem",
        version="bench",
    )
    return body, headers


async def fire(
    sender: WebhookSender,
    urls: list[str],
    payloads: list,
    total: int,
    concurrency: int,
    attempt_timeout: float,
) -> Run:
    latencies: list[float] = []
    failures = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, failures
        while next_index < total:
            i = next_index
            next_index += 1
            body, headers = payloads[i % len(payloads)]
            started = time.perf_counter()
            result = await sender.send(urls[i % len(urls)], body, headers, attempt_timeout)
            latencies.append(time.perf_counter() - started)
            if not result.is_success:
                failures += 1
                if failures <= 3:
                    print(f"  failure: {result.error}", file=sys.stderr)

    cpu0, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu0
    return Run("", concurrency, total, elapsed, cpu, latencies, failures)


async def measure(
    name: str, urls: list[str], payloads: list, args: argparse.Namespace, concurrency: int
) -> Run:
    sender: WebhookSender = SENDERS[name]()
    try:
        warm_up = max(concurrency * 2, args.deliveries // 10)
        await fire(sender, urls, payloads, warm_up, concurrency, args.timeout)
        run = await fire(sender, urls, payloads, args.deliveries, concurrency, args.timeout)
    finally:
        await sender.aclose()
    run.sender = name
    return run


async def bench(args: argparse.Namespace, ports: list[int]) -> None:
    urls = [f"http://127.0.0.1:{port}/hook" for port in ports]
    secret = generate_secret()
    payloads = [make_delivery(i, secret) for i in range(256)]
    print(
        f"{args.deliveries} deliveries per run, {len(urls)} target hosts, consumer delay {args.delay} ms, "
        f"{args.rounds} rounds (best kept), attempt timeout {args.timeout:g} s, client loop {args.loop}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print()
    print("| sender  | concurrency | deliveries/s | p50 ms | p99 ms | client CPU µs/delivery | failures |")
    print("|---------|------------:|-------------:|-------:|-------:|-----------------------:|---------:|")
    ratios: list[tuple[int, float, float]] = []
    for concurrency in args.concurrency:
        best: dict[str, Run] = {}
        for round_no in range(args.rounds):
            order = list(SENDERS) if round_no % 2 == 0 else list(reversed(SENDERS))
            for name in order:
                run = await measure(name, urls, payloads, args, concurrency)
                if name not in best or run.rate > best[name].rate:
                    best[name] = run
        for name in SENDERS:
            run = best[name]
            print(
                f"| {name:<7} | {concurrency:>11} | {run.rate:>12,.0f} | {run.pct(0.5):>6.1f} | "
                f"{run.pct(0.99):>6.1f} | {run.cpu / run.deliveries * 1e6:>22,.0f} | {run.failures:>8} |"
            )
        a, h = best["aiohttp"], best["httpx"]
        ratios.append((concurrency, a.rate / h.rate, (h.cpu / h.deliveries) / (a.cpu / a.deliveries)))
    print()
    for concurrency, rate_ratio, cpu_ratio in ratios:
        print(
            f"concurrency {concurrency}: aiohttp/httpx throughput ratio {rate_ratio:.2f}x, "
            f"httpx uses {cpu_ratio:.2f}x the client CPU per delivery"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--delay", type=float, default=0.0, help="consumer answer delay, ms")
    parser.add_argument("--targets", type=int, default=10, help="consumer ports (distinct hosts)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=30.0, help="per-attempt timeout, s")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        import uvloop

        uvloop.run(serve(args.targets, args.delay))
        return

    consumer = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--targets", str(args.targets), "--delay", str(args.delay)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert consumer.stdout is not None
        ports = json.loads(consumer.stdout.readline())["ports"]
        if args.loop == "uvloop":
            import uvloop

            uvloop.run(bench(args, ports))
        else:
            asyncio.run(bench(args, ports))
    finally:
        if consumer.stdin:
            consumer.stdin.close()
        try:
            consumer.wait(timeout=10)
        except subprocess.TimeoutExpired:
            consumer.kill()


if __name__ == "__main__":
    main()
