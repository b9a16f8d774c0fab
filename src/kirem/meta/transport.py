"""An httpx transport that sends through one pooled aiohttp session.

:class:`kirem.meta.client.GraphClient` speaks httpx (requests, streamed media downloads, mock
transports in tests), but httpx's own connection pool spends milliseconds of CPU per request once
dozens are in flight, which made the Graph call the largest cost of a send (``bench/send_path.py``).
This transport keeps the httpx API and hands each request to aiohttp: keep-alive connections shared
by every call to Meta, certificates verified, no cookies, redirects not followed, bodies passed on
undecoded (httpx decodes them by ``Content-Encoding`` as it always does), aiohttp's errors raised as
the httpx errors callers already handle.

:meth:`AiohttpTransport.exchange` is the same call without httpx's request and response objects,
for :class:`kirem.meta.client.GraphClient`'s small JSON calls (a send): building those cost about
0.4 ms of CPU per call, a tenth of a whole send. :class:`AsgiExchange` offers the same call to an
ASGI app in the process (the built-in sandbox), without httpx's ASGI transport around it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Sequence
from functools import cache
from typing import Any, Protocol

import aiohttp
import certifi
import httpx
from starlette.types import ASGIApp, Message
from yarl import URL

POOL_LIMIT = 256
"""Connections open to Meta at once; a send waits for one beyond that."""
KEEPALIVE_SECONDS = 30.0
_DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_SET_BY_AIOHTTP = frozenset({"accept-encoding", "connection"})
"""Default headers of an httpx client that a direct call leaves to aiohttp (which decodes what it
accepts)."""
_CHUNK = 64 * 1024


class Exchange(Protocol):
    """One whole request and its answer, without httpx's request and response objects."""

    async def exchange(
        self,
        method: str,
        url: URL,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        timeout: httpx.Timeout,
    ) -> tuple[int, bytes]: ...


class _Body(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.content.iter_chunked(_CHUNK):
                yield chunk
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=self.request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or exc.__class__.__name__, request=self.request) from exc

    async def aclose(self) -> None:
        self.response.release()


@cache
def verified_tls() -> ssl.SSLContext:
    """The process's TLS context for Meta: certifi's roots, certificates and host names verified.

    Loading the roots takes tens of milliseconds of CPU (hundreds on a loaded machine), so it is done
    once per process, when a transport is made at start-up, not inside the first request's call.
    """
    return ssl.create_default_context(cafile=certifi.where())


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Requests made by aiohttp, answers as httpx responses; the session opens on first use."""

    def __init__(self, limit: int = POOL_LIMIT, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.limit = limit
        self.keepalive = keepalive
        self._tls = verified_tls()
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.limit,
                keepalive_timeout=self.keepalive,
                ssl=self._tls,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("Content-Type",),
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
        body = await request.aread()
        response = await self._send(
            request.method,
            URL(str(request.url), encoded=True),
            headers,
            body or None,
            _timeout(timeouts.get("pool"), timeouts.get("connect"), timeouts.get("read")),
            request=request,
            decompress=False,
        )
        return httpx.Response(
            status_code=response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def exchange(
        self,
        method: str,
        url: URL,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        timeout: httpx.Timeout,
    ) -> tuple[int, bytes]:
        """One whole request and its answer (status, body decoded by ``Content-Encoding``).

        Fails with the httpx errors :meth:`handle_async_request` raises for the same failures.
        """
        response = await self._send(
            method, url, headers, body, _timeout(timeout.pool, timeout.connect, timeout.read), request=None
        )
        try:
            return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=_named(method, url)) from exc
        except aiohttp.ClientError as exc:
            message = str(exc) or exc.__class__.__name__
            raise httpx.ReadError(message, request=_named(method, url)) from exc
        finally:
            response.release()

    async def _send(
        self,
        method: str,
        url: URL,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
        *,
        request: httpx.Request | None,
        decompress: bool = True,
    ) -> aiohttp.ClientResponse:
        """aiohttp's request; its errors as httpx's, naming ``request`` (one made up if ``None``)."""
        try:
            return await self._client().request(
                method,
                url,
                headers=headers,
                data=body,
                allow_redirects=False,
                timeout=timeout,
                auto_decompress=decompress,
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            named = request or _named(method, url)
            raise httpx.TimeoutException(str(exc) or "timed out", request=named) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request or _named(method, url)) from exc
        except aiohttp.ClientError as exc:
            named = request or _named(method, url)
            raise httpx.NetworkError(str(exc) or exc.__class__.__name__, request=named) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


class AsgiExchange:
    """:meth:`AiohttpTransport.exchange` answered by an ASGI app in this process.

    The app gets the scope :class:`httpx.ASGITransport` gives it (same path, ``root_path``, query,
    headers with ``Host`` and ``Content-Length``), so it answers the same bytes; its exceptions
    propagate, as they do through that transport. ``timeout`` is not applied: nothing waits on a
    network.
    """

    def __init__(
        self, app: ASGIApp, root_path: str = "", client: tuple[str, int] = ("127.0.0.1", 123)
    ) -> None:
        self.app = app
        self.root_path = root_path
        self.client = client

    async def exchange(
        self,
        method: str,
        url: URL,
        headers: Sequence[tuple[str, str]],
        body: bytes | None,
        timeout: httpx.Timeout,
    ) -> tuple[int, bytes]:
        content = body or b""
        raw = [(b"host", url.raw_authority.encode("ascii"))]
        raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            raw.append((b"content-length", str(len(content)).encode("ascii")))
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "headers": raw,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.encode("ascii"),
            "query_string": url.raw_query_string.encode("ascii"),
            "server": (url.host, url.explicit_port),
            "client": self.client,
            "root_path": self.root_path,
        }
        status = 0
        parts: list[bytes] = []
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}

        async def send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and method != "HEAD":
                parts.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(parts)


def client_headers(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """``client``'s default headers (User-Agent, Accept) for :meth:`AiohttpTransport.exchange`."""
    return [(k, v) for k, v in client.headers.multi_items() if k.lower() not in _SET_BY_AIOHTTP]


def _timeout(pool: float | None, connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
    """httpx's timeouts in aiohttp's terms: waiting for a pooled connection, connecting, each read."""
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect, sock_read=read)


def _named(method: str, url: URL) -> httpx.Request:
    """The httpx request an error names, made only when a direct :meth:`exchange` fails."""
    return httpx.Request(method, str(url))
