"""Shared benchmark harness: ``wrk`` as load generator, ``kirem serve`` and a bare endpoint side by side.

Every figure a benchmark prints is measured beside a bare FastAPI endpoint served by the same stack
as ``kirem serve`` (uvicorn with its default loop and HTTP implementations, warning-level logs, no
proxy headers) in the same run, so a ratio to bare stays meaningful on a machine whose cores other
work shares.

``wrk`` (Debian package ``wrk``: ``apt-get install wrk``) sends the load. Requests are precomputed
in Python as raw HTTP/1.1 requests (each with its own body and headers, so every webhook has its
own message id and every send its own Idempotency-Key when wanted), written to a file that a Lua
script loads once per wrk thread and cycles through. The script's ``done()`` prints the summary
and latency percentiles as one JSON line, which :func:`run_wrk` parses.

Used as a module by the benchmarks; ``python bench/harness.py bare --port N`` serves the bare
endpoint alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi import Request as HttpRequest
from fastapi.responses import JSONResponse

ROOT = Path(__file__).resolve().parents[1]
KIREM = str(Path(sys.executable).with_name("kirem"))
RESULT_MARK = "KIREM-BENCH-RESULT "

LUA = r"""
local requests = {}
local count = 0
local next_index = 1
local started_threads = 0

function setup(thread)
  started_threads = started_threads + 1
  thread:set("thread_number", started_threads)
end

function init(args)
  local data = io.open(args[1], "rb"):read("*a")
  local position = 1
  for length in io.lines(args[2]) do
    local size = tonumber(length)
    count = count + 1
    requests[count] = data:sub(position, position + size - 1)
    position = position + size
  end
  local per_thread = math.floor(count / tonumber(args[3]))
  next_index = (thread_number - 1) * per_thread + 1
end

function request()
  local raw = requests[next_index]
  next_index = next_index + 1
  if next_index > count then next_index = 1 end
  return raw
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    "KIREM-BENCH-RESULT ", summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
"""


@dataclass
class Request:
    """One HTTP request to replay: method, path, headers and body."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def raw(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class WrkResult:
    """What one wrk run measured (latencies in milliseconds)."""

    name: str
    requests: int
    seconds: float
    errors: int
    non_2xx_3xx: int
    p50: float
    p90: float
    p99: float
    p999: float
    max: float
    cpu_ms: float = float("nan")
    """Server CPU time per request (all its processes), when the caller measured it."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def find_wrk() -> str:
    """The wrk binary, or exit saying how to install it."""
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian/Ubuntu)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_wrk(
    name: str,
    url: str,
    requests: Sequence[Request],
    *,
    connections: int = 32,
    seconds: float = 10,
    threads: int = 1,
    server_pid: int | None = None,
) -> WrkResult:
    """Replay ``requests`` (cycled) against ``url`` for ``seconds`` at ``connections``.

    With ``server_pid``, the server's CPU time per request is measured too.
    """
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    host = url.split("://", 1)[1].split("/", 1)[0]
    work = Path(tempfile.mkdtemp(prefix="kirem-wrk-"))
    try:
        raws = [request.raw(host) for request in requests]
        (work / "requests.bin").write_bytes(b"".join(raws))
        (work / "lengths.txt").write_text("".join(f"{len(raw)}\n" for raw in raws))
        (work / "script.lua").write_text(LUA)
        command = [
            find_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(work / "script.lua"),
            url,
            "--",
            str(work / "requests.bin"),
            str(work / "lengths.txt"),
            str(threads),
        ]
        out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    line = next((line for line in out.stdout.splitlines() if line.startswith(RESULT_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line[len(RESULT_MARK) :])
    cpu_ms = float("nan")
    if server_pid and data["requests"]:
        cpu_ms = (cpu_seconds(server_pid) - cpu_before) * 1000 / data["requests"]
    return WrkResult(
        name=name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non_2xx_3xx=data["status"],
        p50=data["p50"] / 1000,
        p90=data["p90"] / 1000,
        p99=data["p99"] / 1000,
        p999=data["p999"] / 1000,
        max=data["max"] / 1000,
        cpu_ms=cpu_ms,
    )


def print_table(title: str, results: Sequence[WrkResult], bare: WrkResult) -> None:
    """Absolute figures and each row's throughput as a share of the bare endpoint's."""
    print(f"\n{title}")
    columns = ("req/s", "of bare", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "cpu ms/req")
    header = f"{'path':<28} {columns[0]:>9} " + " ".join(f"{name:>8}" for name in columns[1:])
    print(header)
    print("-" * len(header))
    for result in (bare, *results):
        share = result.rate / bare.rate if bare.rate else 0.0
        errors = result.errors + result.non_2xx_3xx
        print(
            f"{result.name:<28} {result.rate:9.1f} {share:8.1%} {result.p50:8.1f} {result.p90:8.1f}"
            f" {result.p99:8.1f} {result.max:8.1f} {errors:8d} {result.cpu_ms:10.2f}"
        )


def rss_mb(pid: int) -> float:
    """Resident memory of one process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by ``pid`` and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for each in tree_pids(pid):
        with suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{each}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def tree_pids(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn workers are children of the serving process)."""
    pids = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for child_pid in child.read_text().split():
            pids += tree_pids(int(child_pid))
    return pids


def max_rss_mb(pid: int) -> float:
    """The largest resident memory among ``pid`` and its descendants (one process's figure)."""
    return max(rss_mb(each) for each in tree_pids(pid))


class RssSampler:
    """Samples the largest per-process RSS of a process tree in the background; ``peak`` is its maximum."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0.0
        self._stop = False
        self._thread: object | None = None

    def __enter__(self) -> RssSampler:
        import threading

        def sample() -> None:
            while not self._stop:
                with suppress(FileNotFoundError, ProcessLookupError, ValueError):
                    self.peak = max(self.peak, max_rss_mb(self.pid))
                time.sleep(self.every)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        self._thread = thread
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join()  # type: ignore[attr-defined]


@contextmanager
def database(url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh database: a SQLite file in ``tmp``, or a new database on the PostgreSQL server of ``url``.

    A PostgreSQL database created here is dropped afterwards.
    """
    if not url or url.startswith("sqlite"):
        yield url or f"sqlite+aiosqlite:///{tmp / 'kirem.db'}"
        return
    import asyncpg

    plain = "postgresql://" + url.split("://", 1)[1]
    name = f"kirem_bench_{secrets.token_hex(5)}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(plain)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{plain.rpartition('/')[0]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Kirem:
    """A running Kirem process (``serve`` or ``worker``) and the environment it was given."""

    process: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    log_path: Path

    def cli(self, *args: str) -> str:
        result = subprocess.run([KIREM, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"kirem {' '.join(args)} failed: {result.stdout}\n{result.stderr}")
        return result.stdout

    def bootstrap(self, plan: str = "scale") -> dict[str, str]:
        """A new account and project (``account`` and ``project`` name them) with a sandbox channel."""
        account = f"bench-{secrets.token_hex(4)}"
        out = self.cli("bootstrap", "--account", account, "--project", "bench", "--plan", plan, "--json")
        return {**json.loads(out), "account": account, "project": "bench"}

    def stop(self) -> None:
        stop_process(self.process)


def kirem_env(tmp: Path, database_url: str, port: int, **extra: str) -> dict[str, str]:
    from kirem.crypto import generate_key_spec

    key_file = tmp / "encryption-key"
    if not key_file.exists():
        key_file.write_text(generate_key_spec("bench"))
    return {
        **os.environ,
        "KIREM_DATABASE_URL": database_url,
        "KIREM_DATA_DIR": str(tmp / "data"),
        "KIREM_ENCRYPTION_KEY": key_file.read_text(),
        "KIREM_PORT": str(port),
        "KIREM_HOST": "127.0.0.1",
        "KIREM_OPERATOR_TOKEN": "operator-bench",
        "KIREM_LOG_LEVEL": "warning",
        "KIREM_META_APP_SECRET": "bench-app-secret",
        "KIREM_META_VERIFY_TOKEN": "verify-bench",
        "KIREM_RATE_LIMIT_PER_SECOND": "1000000",
        "KIREM_SANDBOX_THROUGHPUT_PER_SECOND": "1000000",
        **extra,
    }


def start_kirem(tmp: Path, database_url: str, *args: str, **extra_env: str) -> Kirem:
    """``kirem serve`` (extra ``args`` such as ``--workers 2``) on a free port; returns once ready."""
    port = free_port()
    env = kirem_env(tmp, database_url, port, **extra_env)
    log_path = tmp / f"serve-{port}.log"
    process = subprocess.Popen(
        [KIREM, "serve", *args], env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, cwd=tmp
    )
    kirem = Kirem(process, f"http://127.0.0.1:{port}", env, log_path)
    wait_ready(process, f"{kirem.url}/readyz", log_path)
    return kirem


def start_worker(server: Kirem) -> subprocess.Popen[bytes]:
    """``kirem worker`` on the same database and settings as ``server``."""
    log_path = server.log_path.with_name(f"worker-{secrets.token_hex(3)}.log")
    log = log_path.open("wb")
    return subprocess.Popen([KIREM, "worker"], env=server.env, stdout=log, stderr=subprocess.STDOUT)


def start_bare() -> tuple[subprocess.Popen[bytes], str]:
    """The bare endpoint (``python bench/harness.py bare``) on a free port."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "bare", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_ready(process, f"{url}/readyz", None)
    return process, url


def wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path | None) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = log_path.read_text(errors="replace") if log_path else ""
            raise RuntimeError(f"process exited early:\n{log}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"{url} not ready in time")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bare_app() -> FastAPI:
    """FastAPI answering any method and path with a small JSON body after reading the request body."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def anything(request: HttpRequest, path: str) -> JSONResponse:
        body = await request.body()
        parsed = json.loads(body) if body else None
        fields = len(parsed) if isinstance(parsed, dict) else 0
        return JSONResponse({"ok": True, "path": path, "fields": fields})

    return app


def serve_bare(port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    bare = sub.add_parser("bare", help="serve the bare endpoint")
    bare.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    if args.command == "bare":
        serve_bare(args.port)


if __name__ == "__main__":
    main()
