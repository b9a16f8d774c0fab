"""The httpx ``WebhookSender`` the delivery benchmark compares with ``AiohttpSender``.

Kirem delivers with aiohttp (``docs/performance.md``, "Webhook sender"); this sender follows the
same rules (``kirem.delivery.sender``'s module docstring) and reuses its classification, so the
benchmark compares the HTTP clients and nothing else.
"""

from __future__ import annotations

import asyncio
import http.cookiejar
import ssl
import time
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

import httpx

from kirem.delivery.sender import (
    _READ_CHUNK,
    DEFAULT_KEEPALIVE,
    DEFAULT_LIMIT,
    DEFAULT_LIMIT_PER_HOST,
    MAX_RESPONSE_BODY,
    AttemptResult,
    _bad_url,
    _first_line,
    _result,
    _timeout_error,
    describe_error,
)


def describe_httpx_error(exc: BaseException, url: str) -> str:
    """``describe_error`` with httpx's own exceptions named the same way."""
    parts = urlsplit(url)
    host = parts.hostname or url
    where = parts.netloc or host
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx.RemoteProtocolError):
            text = str(seen)
            if "disconnected" in text.lower() or "peer closed" in text.lower():
                return f"{host} closed the connection without a complete response"
            return f"invalid HTTP response from {host}: {_first_line(text)}"
        if isinstance(seen, httpx.ReadError):
            return f"connection to {where} broke while reading the response"
        if isinstance(seen, httpx.WriteError):
            return f"connection to {where} broke while sending the request"
        if isinstance(seen, httpx.InvalidURL | httpx.UnsupportedProtocol):
            return f"invalid target URL: {url}"
        seen = seen.__cause__ or seen.__context__
    return describe_error(exc, url)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


class _HostSlots:
    """Per-host connection cap for httpx, whose pool only has a total limit.

    Semaphores are created on demand and dropped when no attempt holds or waits for them.
    """

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._slots: dict[tuple[str, str, int | None], tuple[asyncio.Semaphore, list[int]]] = {}

    def _key(self, url: str) -> tuple[str, str, int | None]:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname or "", parts.port)

    async def acquire(self, url: str) -> tuple[str, str, int | None]:
        key = self._key(url)
        entry = self._slots.get(key)
        if entry is None:
            entry = self._slots[key] = (asyncio.Semaphore(self._per_host), [0])
        semaphore, users = entry
        users[0] += 1
        try:
            await semaphore.acquire()
        except BaseException:
            self._leave(key)
            raise
        return key

    def release(self, key: tuple[str, str, int | None]) -> None:
        self._slots[key][0].release()
        self._leave(key)

    def _leave(self, key: tuple[str, str, int | None]) -> None:
        entry = self._slots[key]
        entry[1][0] -= 1
        if entry[1][0] == 0:
            del self._slots[key]


class HttpxSender:
    """``WebhookSender`` on one shared ``httpx.AsyncClient`` (created on first use)."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        limit_per_host: int = DEFAULT_LIMIT_PER_HOST,
        keepalive: float = DEFAULT_KEEPALIVE,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = False,
    ) -> None:
        self._limits = httpx.Limits(
            max_connections=limit, max_keepalive_connections=limit, keepalive_expiry=keepalive
        )
        self._verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._trust_env = trust_env
        self._hosts = _HostSlots(limit_per_host)
        self._client: httpx.AsyncClient | None = None

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(
                limits=self._limits,
                verify=self._verify,
                trust_env=self._trust_env,
                follow_redirects=False,
                cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
            )
        return self._client

    async def send(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> AttemptResult:
        started = time.perf_counter()
        bad = _bad_url(url)
        if bad:
            return _result(started, None, b"", None, None, bad)
        status: int | None = None
        location: str | None = None
        retry_after: str | None = None
        received = bytearray()
        try:
            async with asyncio.timeout(timeout):
                client = self._get_client()
                key = await self._hosts.acquire(url)
                try:
                    async with client.stream(
                        "POST",
                        url,
                        content=body,
                        headers={"Accept-Encoding": "identity", **headers},
                        timeout=httpx.Timeout(timeout),
                    ) as response:
                        status = response.status_code
                        location = response.headers.get("Location")
                        retry_after = response.headers.get("Retry-After")
                        async for chunk in response.aiter_raw(_READ_CHUNK):
                            received += chunk
                            if len(received) >= MAX_RESPONSE_BODY:
                                break
                finally:
                    self._hosts.release(key)
        except (TimeoutError, httpx.TimeoutException):
            return _result(
                started, status, bytes(received), location, retry_after, _timeout_error(timeout, status)
            )
        except Exception as exc:  # send never raises (cancellation aside): any failure is a result
            error = describe_httpx_error(exc, url)
            return _result(started, status, bytes(received), location, retry_after, error)
        return _result(started, status, bytes(received), location, retry_after)

    async def aclose(self) -> None:
        if self._client is not None and not self._client.is_closed:
            await self._client.aclose()
        self._client = None
