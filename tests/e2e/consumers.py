"""Real consumer endpoints on loopback: record what Kirem delivers, answer as scripted."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Consumer:
    """An HTTP server: ``script[path]`` lists the statuses to answer in turn (then 200)."""

    url: str
    received: list[Received] = field(default_factory=list)
    script: dict[str, list[int]] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds every answer waits after the request was recorded (a slow consumer)."""
    hold: threading.Event | None = None
    """While set to an unset Event, every request hangs (a target that never answers)."""
    arrived: list[str] = field(default_factory=list)
    """The path of every request as it arrives, before any hold (``received`` has the answered ones)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def endpoint(self, path: str, *statuses: int) -> str:
        self.script[path] = list(statuses)
        return f"{self.url}{path}"

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.at(path)

    def wait_for_arrivals(self, path: str, count: int, timeout: float = 20.0) -> int:
        """How many requests to ``path`` have arrived, once ``count`` have (or at the timeout)."""
        deadline = time.monotonic() + timeout
        while (arrived := self.arrived.count(path)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return arrived


def _handler(consumer: Consumer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with consumer.lock:
                consumer.arrived.append(self.path)
            if consumer.hold is not None:
                consumer.hold.wait(60)
            with consumer.lock:
                consumer.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                statuses = consumer.script.get(self.path) or []
                status = statuses.pop(0) if statuses else 200
            if consumer.delay:
                time.sleep(consumer.delay)
            with suppress(BrokenPipeError, ConnectionResetError):  # the sender gone (a killed worker)
                self._answer(status)

        def _answer(self, status: int) -> None:
            answer = b'{"ok":true}'
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            return

    return Handler


@contextmanager
def consumer_server() -> Iterator[Consumer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Consumer(url="")))
    consumer = Consumer(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(consumer)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield consumer
    finally:
        if consumer.hold is not None:
            consumer.hold.set()
        server.shutdown()
        server.server_close()
