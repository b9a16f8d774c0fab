"""Loopback servers for the dedicated-egress tests: a consumer that records each caller's address,
and a small forwarding/CONNECT proxy that records what it was asked and dials out from a chosen
source address."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Recorder:
    """Answers 200 to every POST and keeps the peer address of each."""

    url: str = ""
    peers: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self) -> list[str]:
        with self.lock:
            return list(self.peers)


@contextmanager
def recorder() -> Iterator[Recorder]:
    record = Recorder()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with record.lock:
                record.peers.append(self.client_address[0])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Proxy:
    url: str = ""
    source: str = "127.0.0.1"
    """The address the proxy dials out from (what the consumer sees)."""
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, request target, Proxy-Authorization) of each request line the proxy read."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def seen(self) -> list[tuple[str, str, str | None]]:
        with self.lock:
            return list(self.requests)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextmanager
def forward_proxy(source: str = "127.0.0.1") -> Iterator[Proxy]:
    """An HTTP proxy: ``CONNECT host:port`` tunnels, ``POST http://host/…`` is forwarded."""
    proxy = Proxy(source=source)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            head, _, rest = head.partition(b"\r\n\r\n")
            first, *lines = head.decode("latin-1").split("\r\n")
            method, target, version = first.split(" ", 2)
            headers = [line for line in lines if line]
            authorization = next(
                (h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("proxy-authorization:")),
                None,
            )
            with proxy.lock:
                proxy.requests.append((method, target, authorization))
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
            else:
                parts = urlsplit(target)
                host, port = parts.hostname or "", str(parts.port or 80)
            upstream = socket.create_connection((host, int(port)), source_address=(proxy.source, 0))
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                parts = urlsplit(target)
                path = parts.path or "/"
                kept = [
                    h
                    for h in headers
                    if not h.lower().startswith(("proxy-authorization:", "proxy-connection:"))
                ]
                upstream.sendall(
                    "\r\n".join(
                        [f"{method} {path}{'?' + parts.query if parts.query else ''} {version}", *kept]
                    ).encode("latin-1")
                    + b"\r\n\r\n"
                    + rest
                )
                rest = b""
            if rest:
                upstream.sendall(rest)
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join(timeout=30)
            upstream.close()

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    proxy.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
