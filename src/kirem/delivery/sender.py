"""One HTTP attempt of a webhook delivery.

``WebhookSender.send`` posts a signed body to a target and reports what happened as an
``AttemptResult``; it never raises. The rules, the same for every implementation:

- success is a 2xx status within the timeout; anything else is a failure with a short error;
- redirects are never followed: a 3xx is a failure ("redirect to <location> is not followed");
- 410 Gone sets ``gone`` (the caller disables the target);
- ``timeout`` bounds the whole attempt: waiting for a pooled connection, connecting, TLS, sending,
  the response headers and reading the (truncated) body. On expiry the status is None, or the
  status already received when only the body was late or cut short — still a failure, since the
  attempt did not complete (delivery is at-least-once: a retry is safe, a loss is not);
- at most ``MAX_RESPONSE_BODY`` (20 KB) of the response body is read and kept, decoded leniently;
  reading stops there, and the connection is then closed instead of being reused;
- ``Retry-After`` on a response is parsed into seconds (``retry_after``);
- connections are pooled with keep-alive, with a generous total limit and a per-host limit so one
  slow target cannot take every connection; certificates are verified; no cookies are kept (one
  target's cookies must never reach another); responses are requested uncompressed.

``AiohttpSender`` is the implementation; it won the delivery benchmark against one on httpx
(``bench/delivery_sender.py``, which keeps the httpx one in ``bench/httpx_sender.py``).
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver

from kirem.delivery.pinned_resolver import PublicOnlyResolver, RefusedAddress
from kirem.delivery.schedule import parse_retry_after

MAX_RESPONSE_BODY = 20 * 1024
"""Bytes of the response body kept (and read) per attempt."""

DEFAULT_LIMIT = 1000
"""Open connections across all targets."""

DEFAULT_LIMIT_PER_HOST = 50
"""Open connections to one (scheme, host, port)."""

DEFAULT_KEEPALIVE = 4.0
"""Seconds an idle pooled connection is kept: shorter than the usual server idle timeouts (5 s for
Node.js and uvicorn), so a connection the consumer is about to close is not picked for a POST,
which no client may retry on its own."""

_READ_CHUNK = 8 * 1024


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    """The HTTP status, or None when no response arrived."""
    duration_ms: int
    is_success: bool
    error: str | None
    """A short human-readable reason when ``is_success`` is false, else None."""
    response_body: str
    """The response body decoded leniently (UTF-8, bad bytes replaced), cut at 20 KB."""
    retry_after: float | None
    """Seconds from the response's ``Retry-After`` header, if it had a readable one."""
    gone: bool
    """HTTP 410: the target asked to be removed and must be disabled."""


@runtime_checkable
class WebhookSender(Protocol):
    async def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptResult:
        """Make one attempt; never raises."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections."""
        ...


def _format_seconds(timeout: float) -> str:
    return f"{timeout:g}s"


def _decode(body: bytes) -> str:
    return body[:MAX_RESPONSE_BODY].decode("utf-8", errors="replace")


def _result(
    started: float,
    status: int | None,
    body: bytes,
    location: str | None,
    retry_after_header: str | None,
    error: str | None = None,
) -> AttemptResult:
    """Classify a response (or its absence) by the rules in the module docstring."""
    if error is None and status is not None:
        if 200 <= status < 300:
            pass
        elif 300 <= status < 400:
            error = f"redirect to {(location or '(no Location header)')[:500]} is not followed"
        else:
            error = f"HTTP {status}"
    elif error is None:
        error = "no response"
    retry_after = None
    if retry_after_header is not None and status is not None:
        retry_after = parse_retry_after(retry_after_header, datetime.now(UTC))
    return AttemptResult(
        status_code=status,
        duration_ms=round((time.perf_counter() - started) * 1000),
        is_success=error is None,
        error=error,
        response_body=_decode(body),
        retry_after=retry_after,
        gone=status == 410,
    )


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception, its causes and the OS/TLS errors the libraries wrap, outermost first."""
    seen: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop(0)
        if any(current is item for item in seen):
            continue
        seen.append(current)
        for linked in (
            getattr(current, "certificate_error", None),  # aiohttp wraps the TLS error here
            getattr(current, "os_error", None),
            current.__cause__,
            current.__context__,
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return seen


def _first(chain: list[BaseException], kind: type[BaseException]) -> BaseException | None:
    """The outermost exception of the chain that is a ``kind``."""
    return next((item for item in chain if isinstance(item, kind)), None)


def _first_line(text: str) -> str:
    line = next((part.strip() for part in str(text).splitlines() if part.strip()), "")
    return line.rstrip(":")[:200] or "unreadable"


def describe_error(exc: BaseException, url: str) -> str:
    """A short, clear reason for a failed connection, whichever library raised it."""
    try:
        return _describe(exc, url)
    except Exception:  # describing must never turn a failed attempt into an exception
        return type(exc).__name__


def _describe(exc: BaseException, url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    chain = _chain(exc)
    refused = _first(chain, RefusedAddress)
    if refused is not None:
        return f"refused: {refused}"
    for item in chain:
        reason = getattr(item, "verify_message", None)
        if isinstance(item, ssl.SSLCertVerificationError) and reason:
            return f"TLS certificate of {host} is not valid: {reason}"
    if _first(chain, ssl.SSLCertVerificationError) is not None:
        return f"TLS certificate of {host} is not valid"
    for item in chain:
        if isinstance(item, ssl.SSLError):
            reason = getattr(item, "reason", None)
            if not reason:
                continue
            return f"TLS handshake with {host} failed: {reason}"
    if _first(chain, aiohttp.ClientSSLError) is not None:
        return f"TLS handshake with {host} failed"
    if _first(chain, socket.gaierror) is not None:
        return f"DNS lookup for {host} failed"
    for item in chain:
        if isinstance(item, ConnectionRefusedError) or (
            isinstance(item, OSError) and item.errno == errno.ECONNREFUSED
        ):
            return f"connection to {parts.netloc or host} refused"
    for item in chain:
        if isinstance(
            item, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | ConnectionResetError
        ):
            return f"{host} closed the connection without a complete response"
        if isinstance(item, aiohttp.ClientResponseError):
            return f"invalid HTTP response from {host}: {_first_line(item.message)}"
    if _first(chain, aiohttp.InvalidURL) is not None:
        return f"invalid target URL: {url}"
    for item in chain:
        if isinstance(item, OSError) and item.strerror:
            return f"could not connect to {parts.netloc or host}: {item.strerror}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _bad_url(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return f"invalid target URL: {url}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"invalid target URL: {url}"
    return None


def _timeout_error(timeout: float, status: int | None) -> str:
    if status is None:
        return f"timed out after {_format_seconds(timeout)}"
    return f"timed out after {_format_seconds(timeout)} reading the response body"


class AiohttpSender:
    """``WebhookSender`` on one shared ``aiohttp.ClientSession`` (created on first use)."""

    def __init__(
        self,
        *,
        limit: int = DEFAULT_LIMIT,
        limit_per_host: int = DEFAULT_LIMIT_PER_HOST,
        keepalive: float = DEFAULT_KEEPALIVE,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = False,
        local_address: str | None = None,
        proxy: str | None = None,
        public_only: bool = False,
        resolver: AbstractResolver | None = None,
    ) -> None:
        """``local_address`` binds every connection to that source address; ``proxy`` sends every
        request through that HTTP(S) proxy (``CONNECT`` for https targets) — a project's egress.

        ``public_only`` (production) connects only to public addresses of a target's host
        (``PublicOnlyResolver``), refusing the attempt when it has none. With a ``proxy`` it does
        not apply: the connection goes to the proxy the operator configured, which resolves the
        target itself. ``resolver`` replaces DNS (tests)."""
        self._limit = limit
        self._limit_per_host = limit_per_host
        self._keepalive = keepalive
        self._ssl = ssl_context if ssl_context is not None else True
        self._trust_env = trust_env
        self._local_addr = (local_address, 0) if local_address else None
        proxy_url = yarl.URL(proxy) if proxy else None
        self._proxy = proxy_url.with_user(None) if proxy_url else None
        user = proxy_url.user if proxy_url else None
        password = (proxy_url.password if proxy_url else None) or ""
        self._proxy_headers = (
            {"Proxy-Authorization": aiohttp.encode_basic_auth(user, password)} if user else None
        )
        self._public_only = public_only and proxy_url is None
        self._dns = resolver
        self._resolver: AbstractResolver | None = None
        self._session: aiohttp.ClientSession | None = None

    def _forward_proxy_headers(self, url: str) -> dict[str, str]:
        """A plain-http request goes to the proxy itself, so it carries the proxy's credentials;
        an https one is tunnelled and must not (``proxy_headers`` go on the ``CONNECT``)."""
        return (self._proxy_headers or {}) if url.startswith("http:") else {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._resolver = PublicOnlyResolver(self._dns) if self._public_only else self._dns
            connector = aiohttp.TCPConnector(
                limit=self._limit,
                limit_per_host=self._limit_per_host,
                keepalive_timeout=self._keepalive,
                ssl=self._ssl,
                local_addr=self._local_addr,
                resolver=self._resolver,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                trust_env=self._trust_env,
                timeout=aiohttp.ClientTimeout(total=None),  # ``asyncio.timeout`` bounds each attempt
            )
        return self._session

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptResult:
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
                session = self._get_session()
                async with session.post(
                    url,
                    data=body,
                    # Sent on every request, so aiohttp adds no ``Accept-Encoding`` of its own: with
                    # ``skip_auto_headers`` instead it would copy the headers on every request.
                    headers={"Accept-Encoding": "identity", **headers, **self._forward_proxy_headers(url)},
                    allow_redirects=False,
                    proxy=self._proxy,
                    proxy_headers=self._proxy_headers,
                ) as response:
                    status = response.status
                    location = response.headers.get("Location")
                    retry_after = response.headers.get("Retry-After")
                    while len(received) < MAX_RESPONSE_BODY:
                        chunk = await response.content.read(
                            min(_READ_CHUNK, MAX_RESPONSE_BODY - len(received))
                        )
                        if not chunk:
                            break
                        received += chunk
                        if response.content.at_eof():  # spares the read that would answer b""
                            break
        except TimeoutError:
            return _result(
                started, status, bytes(received), location, retry_after, _timeout_error(timeout, status)
            )
        except Exception as exc:  # send never raises (cancellation aside): any failure is a result
            return _result(started, status, bytes(received), location, retry_after, describe_error(exc, url))
        return _result(started, status, bytes(received), location, retry_after)

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        if self._public_only and self._resolver is not None:
            await self._resolver.close()
        self._session = self._resolver = None


def default_sender(*, production: bool = False) -> WebhookSender:
    """The sender the worker uses: the winner of ``bench/delivery_sender.py``; in production it
    connects only to public addresses."""
    return AiohttpSender(public_only=production)
