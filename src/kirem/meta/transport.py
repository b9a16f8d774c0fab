"""An httpx transport that sends through one pooled aiohttp session.

:class:`kirem.meta.client.GraphClient` speaks httpx (requests, streamed media downloads, mock
transports in tests), but httpx's own connection pool spends milliseconds of CPU per request once
dozens are in flight, which made the Graph call the largest cost of a send (``bench/send_path.py``).
This transport keeps the httpx API and hands each request to aiohttp: keep-alive connections shared
by every call to Meta, certificates verified, no cookies, redirects not followed, bodies passed on
undecoded (httpx decodes them by ``Content-Encoding`` as it always does), aiohttp's errors raised as
the httpx errors callers already handle.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
import certifi
import httpx
from yarl import URL

POOL_LIMIT = 256
"""Connections open to Meta at once; a send waits for one beyond that."""
KEEPALIVE_SECONDS = 30.0
_DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_CHUNK = 64 * 1024


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


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Requests made by aiohttp, answers as httpx responses; the session opens on first use."""

    def __init__(self, limit: int = POOL_LIMIT, keepalive: float = KEEPALIVE_SECONDS) -> None:
        self.limit = limit
        self.keepalive = keepalive
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self.limit,
                keepalive_timeout=self.keepalive,
                ssl=ssl.create_default_context(cafile=certifi.where()),
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
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=timeouts.get("pool"),
            sock_connect=timeouts.get("connect"),
            sock_read=timeouts.get("read"),
        )
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _DROPPED_HEADERS]
        body = await request.aread()
        try:
            response = await self._client().request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=timeout,
            )
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.TimeoutException(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.NetworkError(str(exc) or exc.__class__.__name__, request=request) from exc
        return httpx.Response(
            status_code=response.status,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.raw_headers],
            stream=_Body(response, request),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
