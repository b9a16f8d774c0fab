"""Send-path benchmark: ``POST /v1/…/messages`` per second through ``kirem serve``, beside a bare endpoint.

Two paths, one command each:

- ``--mode live``: a live channel whose Graph URL (``KIREM_META_GRAPH_URL``) is a stand-in Graph
  server on loopback, a raw asyncio process answering Meta's send response at once, so the figure
  is Kirem's own cost (auth, validation, quota, message log, the Graph call, the log update);
- ``--mode sandbox``: the built-in sandbox, whose ``sent``/``delivered``/``read`` status webhooks
  come back to ``/webhooks/meta`` and are processed while the load runs; after the load the bench
  waits until every accepted send is ``read`` and reports how long that took.

Each request has its own ``to`` and body. The bare FastAPI endpoint (same uvicorn stack) gets the
same requests in the same run. ``--workers N`` runs ``kirem serve --workers N``; ``--worker-processes
M`` adds M ``kirem worker`` processes (PostgreSQL). The server's resident memory is printed idle,
at its peak during the load, and after the load has drained (largest single process).

Run (wrk from Debian's ``wrk`` package):

    .venv/bin/python bench/send_path.py --mode live [--database-url postgresql://…/postgres]
    .venv/bin/python bench/send_path.py --mode sandbox [--seconds 10] [--connections 32]
    .venv/bin/python bench/send_path.py graph-call     # CPU of one Graph call, httpx or direct

A PostgreSQL URL names a server: the bench creates a fresh database there and drops it after.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (
    Kirem,
    Request,
    RssSampler,
    WrkResult,
    cpu_seconds,
    database,
    free_port,
    max_rss_mb,
    print_table,
    run_wrk,
    start_bare,
    start_kirem,
    start_worker,
    stop_process,
    wait_ready,
)
from bench.profile import profiled

PHONE_NUMBER_ID = "109876543210987"
WABA_ID = "209876543210987"
SANDBOX_THROUGHPUT = 10_000
"""Sends per second the sandbox number takes, far above Meta's top tier (1,000) and its default (80),
so that the sandbox's own throughput limit is not what the sandbox run measures: at Meta's top tier,
a run at 700 sends/s met it in its busiest seconds (a few `429`s, Meta's code 130429)."""


def graph_response(message_number: int, to: bytes) -> bytes:
    body = (
        b'{"messaging_product":"whatsapp","contacts":[{"input":"'
        + to
        + b'","wa_id":"'
        + to
        + b'"}],"messages":[{"id":"wamid.STANDIN'
        + str(message_number).encode()
        + b'"}]}'
    )
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    return head + body


class GraphProtocol(asyncio.Protocol):
    """Keep-alive HTTP/1.1 answering every request with Meta's send response (``/readyz``: 200)."""

    sent = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            to_at = body.find(b'"to":')
            to = body[to_at + 5 :].split(b'"')[1] if to_at >= 0 else b"0"
            GraphProtocol.sent += 1
            self.transport.write(graph_response(GraphProtocol.sent, to))  # type: ignore[attr-defined]


def serve_graph(port: int) -> None:
    """The stand-in Graph server (run in its own process)."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(
            GraphProtocol, "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_graph() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "graph", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(process, f"{url}/readyz", None)
    return process, url


def send_requests(path: str, api_key: str, count: int) -> list[Request]:
    """Template sends, each to its own number (a distinct body per request)."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    requests = []
    for index in range(count):
        body = {
            "messaging_product": "whatsapp",
            "to": f"628{index:09d}",
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "en_US"}},
        }
        requests.append(Request("POST", path, headers, json.dumps(body).encode()))
    return requests


async def count_read(database_url: str) -> int:
    """Message logs whose status reached ``read`` (every status webhook of theirs processed)."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from kirem.messaging.models import MessageLog

    url = database_url
    if url.startswith("postgresql://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            stmt = select(func.count()).select_from(MessageLog).where(MessageLog.status == "read")
            return int((await conn.execute(stmt)).scalar_one())
    finally:
        await engine.dispose()


def wait_statuses(database_url: str, expected: int, limit: float = 300) -> float:
    """Seconds until ``expected`` sends are ``read``; raises past ``limit``."""
    started = time.monotonic()
    while True:
        done = asyncio.run(count_read(database_url))
        if done >= expected:
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            raise RuntimeError(f"only {done} of {expected} sends reached 'read' in {limit:.0f} s")
        time.sleep(0.5)


def run(args: argparse.Namespace) -> tuple[WrkResult, WrkResult, float]:
    """One measurement as ``args`` say; prints its table and returns bare, send and the drain time.

    In sandbox mode the report adds the server's CPU per send from the start of the load until every
    send is ``read`` (the status webhooks' processing included, which the wrk column stops short of).
    """
    tmp = Path(tempfile.mkdtemp(prefix="kirem-bench-"))
    graph_process, graph_url = start_graph() if args.mode == "live" else (None, "")
    bare_process, bare_url = start_bare()
    workers: list[subprocess.Popen[bytes]] = []
    server: Kirem | None = None
    try:
        with database(args.database_url, tmp) as url:
            env = {
                "KIREM_SANDBOX_STATUS_DELAY_SECONDS": str(args.status_delay),
                "KIREM_SANDBOX_THROUGHPUT_PER_SECOND": str(SANDBOX_THROUGHPUT),
                "KIREM_META_GRAPH_URL": graph_url or "http://127.0.0.1:9",
            }
            if args.worker_processes:
                env["KIREM_WORKER"] = "false"
            serve_args = ["--workers", str(args.workers)] if args.workers > 1 else []
            server = start_kirem(tmp, url, *serve_args, **env)
            workers = [start_worker(server) for _ in range(args.worker_processes)]
            boot = server.bootstrap()
            path = "/v1/messages"
            if args.mode == "live":
                server.cli(
                    "channels", "add", boot["account"], boot["project"], "--kind", "live",
                    "--phone-number-id", PHONE_NUMBER_ID, "--waba-id", WABA_ID,
                    "--access-token", "EAAbenchstandin", "--no-verify", "--json",
                )  # fmt: skip
                path = f"/v1/{PHONE_NUMBER_ID}/messages"
            requests = send_requests(path, boot["api_key"], args.distinct)
            time.sleep(1)
            idle = max_rss_mb(server.process.pid)
            bare = run_wrk(
                "bare endpoint",
                bare_url,
                requests,
                connections=args.connections,
                seconds=args.seconds,
                server_pid=bare_process.pid,
            )
            profile = str(tmp / "profile.txt") if args.profile else None
            with (
                RssSampler(server.process.pid) as sampler,
                profiled(server.process.pid, profile, args.seconds),
            ):
                cpu_before = cpu_seconds(server.process.pid)
                workers_before = sum(cpu_seconds(worker.pid) for worker in workers)
                send = run_wrk(
                    f"send ({args.mode})",
                    server.url,
                    requests,
                    connections=args.connections,
                    seconds=args.seconds,
                    server_pid=server.process.pid,
                )
                drained = wait_statuses(url, send.requests) if args.mode == "sandbox" else 0.0
                cpu_drained = cpu_seconds(server.process.pid) - cpu_before
                workers_drained = sum(cpu_seconds(worker.pid) for worker in workers) - workers_before
            time.sleep(2)
            after = max_rss_mb(server.process.pid)
            report(
                args, url, bare, send, (drained, cpu_drained, workers_drained), (idle, sampler.peak, after)
            )
            return bare, send, drained
    finally:
        for worker in workers:
            stop_process(worker)
        if server is not None:
            server.stop()
        stop_process(bare_process)
        if graph_process is not None:
            stop_process(graph_process)


def report(
    args: argparse.Namespace,
    url: str,
    bare: WrkResult,
    send: WrkResult,
    drain: tuple[float, float, float],
    rss: tuple[float, float, float],
) -> None:
    """The table; in sandbox mode also ``drain``: seconds until every send was ``read`` after the load,
    and the CPU seconds of the server and of the ``kirem worker`` processes from the load's start until
    then (the workers' share matters where they compete with the server for the same cores)."""
    drained, cpu_drained, workers_drained = drain
    engine = "postgresql" if url.startswith("postgres") else "sqlite"
    title = (
        f"{engine}, {args.mode}: wrk 1 thread, {args.connections} connections, {args.seconds:g} s; "
        f"serve --workers {args.workers}, {args.worker_processes} kirem worker; cpus {os.cpu_count()}"
    )
    print_table(title, [send], bare)
    if args.mode == "sandbox":
        total = send.seconds + drained
        print(
            f"all {send.requests} sends 'read' {drained:.1f} s after the load: "
            f"{send.requests / total:.1f} sends/s with their status webhooks processed, "
            f"{cpu_drained * 1000 / max(send.requests, 1):.2f} ms of server CPU per send with them"
        )
        if args.worker_processes:
            print(
                f"kirem worker processes: {workers_drained * 1000 / max(send.requests, 1):.2f} ms of CPU "
                "per send over the same time (all workers together)"
            )
    print(f"server RSS (largest process): idle {rss[0]:.0f} MB, peak {rss[1]:.0f} MB, after {rss[2]:.0f} MB")


def graph_call_cpu(rounds: int = 60, in_flight: int = 32) -> None:
    """CPU per Graph send call, through httpx and direct (``GraphClient(direct=…)``), 32 in flight.

    The client's ``time.process_time`` against the stand-in Graph server in its own process: a
    figure the machine's load does not move, unlike a rate.
    """
    import httpx

    from kirem.meta.client import GraphClient
    from kirem.meta.transport import AiohttpTransport

    body = {"messaging_product": "whatsapp", "to": "15551234567", "type": "template"}
    body["template"] = {"name": "hello_world", "language": {"code": "en_US"}}

    async def per_call(url: str, direct: bool) -> float:
        pooled = AiohttpTransport()
        http = httpx.AsyncClient(base_url=url, timeout=10, transport=pooled, headers={"User-Agent": "Kirem"})
        client = GraphClient(http, "v23.0", direct=pooled if direct else None)

        async def together() -> None:
            calls = [client.send_message(PHONE_NUMBER_ID, "token", body) for _ in range(in_flight)]
            await asyncio.gather(*calls)

        await together()  # connections opened before the clock starts
        start = time.process_time()
        for _ in range(rounds):
            await together()
        await client.aclose()
        return (time.process_time() - start) / (rounds * in_flight) * 1000

    async def compare(url: str) -> None:
        for _ in range(3):
            through_httpx, direct = await per_call(url, False), await per_call(url, True)
            print(f"CPU per Graph call: through httpx {through_httpx:.3f} ms, direct {direct:.3f} ms")

    process, url = start_graph()
    try:
        asyncio.run(compare(url))
    finally:
        stop_process(process)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="bench", choices=["bench", "graph", "graph-call"])
    parser.add_argument("--mode", choices=["live", "sandbox"], default="live")
    parser.add_argument("--database-url", help="default: a fresh SQLite file; or a PostgreSQL server URL")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--distinct", type=int, default=50_000, help="distinct requests, cycled")
    parser.add_argument("--status-delay", type=float, default=0.2, help="sandbox: seconds between statuses")
    parser.add_argument("--workers", type=int, default=1, help="kirem serve --workers")
    parser.add_argument("--worker-processes", type=int, default=0, help="kirem worker processes")
    parser.add_argument(
        "--profile", action="store_true", help="sample the server with py-spy, print a summary"
    )
    parser.add_argument("--port", type=int, help="graph: the port to serve on")
    return parser


def main() -> None:
    args = arguments().parse_args()
    if args.command == "graph":
        serve_graph(args.port)
    elif args.command == "graph-call":
        graph_call_cpu()
    else:
        run(args)


if __name__ == "__main__":
    main()
