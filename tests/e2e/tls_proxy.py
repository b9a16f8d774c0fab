"""A TLS front for the plain-HTTP e2e server, for clients that only speak HTTPS (Meta's Node.js SDK).

The certificate is self-signed, made at test time for ``127.0.0.1``; a client trusts it by its file
(``NODE_EXTRA_CA_CERTS`` for node). Bytes are piped both ways unchanged, as a TLS-terminating
reverse proxy in front of Kirem would.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.certificates import self_signed


@dataclass
class TlsProxy:
    port: int
    certificate: Path


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with suppress(ConnectionError, ssl.SSLError, RuntimeError):
            writer.close()


class _Front:
    """The proxy's own event loop, run in a thread; ``close`` ends its connections and the loop."""

    def __init__(self, upstream_port: int, context: ssl.SSLContext) -> None:
        self.upstream_port = upstream_port
        self.loop = asyncio.new_event_loop()
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._connection, "127.0.0.1", 0, ssl=context)
        )
        self.port = int(self.server.sockets[0].getsockname()[1])
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

    async def _shutdown(self) -> None:
        self.server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


@contextmanager
def tls_proxy(upstream_port: int, directory: Path) -> Iterator[TlsProxy]:
    """HTTPS on a free loopback port, forwarded to ``upstream_port``, while the block runs."""
    cert_path, key_path = self_signed(directory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    front = _Front(upstream_port, context)
    try:
        yield TlsProxy(port=front.port, certificate=cert_path)
    finally:
        front.close()
