"""One delivery attempt against real HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web

from kirem.delivery.sender import (
    MAX_RESPONSE_BODY,
    AiohttpSender,
    AttemptResult,
    WebhookSender,
    default_sender,
)
from tests.certificates import self_signed

BODY = b'{"id":"evt_1"}'
HEADERS = {"Content-Type": "application/json", "User-Agent": "Kirem-Webhooks/test", "webhook-id": "evt_1"}
SLOW_SECONDS = 5.0


async def ok(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="thanks")


async def no_content(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def echo(request: web.Request) -> web.Response:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return web.json_response(
        {
            "method": request.method,
            "body": (await request.read()).decode(),
            "headers": dict(request.headers),
            "peer_port": peer[1] if peer else None,
        }
    )


async def fail(request: web.Request) -> web.Response:
    return web.Response(status=500, text="boom")


async def gone(request: web.Request) -> web.Response:
    return web.Response(status=410, text="unsubscribed")


async def redirect(request: web.Request) -> web.Response:
    return web.Response(status=301, headers={"Location": "/ok"})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(SLOW_SECONDS)
    return web.Response(text="late")


async def slow_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(status=200)
    response.content_length = 100
    await response.prepare(request)
    await response.write(b"x" * 10)
    await asyncio.sleep(SLOW_SECONDS)
    return response


async def endless(request: web.Request) -> web.StreamResponse:
    """A body that never ends (well, 200 MB): the sender must stop reading after 20 KB."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    chunk = b"a" * 65536
    try:
        for _ in range(3200):
            await response.write(chunk)
    except (ConnectionError, asyncio.CancelledError):
        pass
    return response


async def huge(request: web.Request) -> web.Response:
    return web.Response(body=b"b" * (3 * 1024 * 1024))


async def busy(request: web.Request) -> web.Response:
    return web.Response(status=503, headers={"Retry-After": "120"})


async def busy_date(request: web.Request) -> web.Response:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=600)
    return web.Response(status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})


async def set_cookie(request: web.Request) -> web.Response:
    response = web.Response(text="cookie set")
    response.set_cookie("session", "secret-of-tenant-a")
    return response


async def bad_utf8(request: web.Request) -> web.Response:
    return web.Response(body=b"ok \xff\xfe done", content_type="text/plain")


def make_app() -> web.Application:
    app = web.Application()
    app.add_routes(
        [
            web.post("/ok", ok),
            web.post("/no-content", no_content),
            web.post("/echo", echo),
            web.post("/fail", fail),
            web.post("/gone", gone),
            web.post("/redirect", redirect),
            web.post("/slow", slow),
            web.post("/slow-body", slow_body),
            web.post("/endless", endless),
            web.post("/huge", huge),
            web.post("/busy", busy),
            web.post("/busy-date", busy_date),
            web.post("/cookie", set_cookie),
            web.post("/bad-utf8", bad_utf8),
        ]
    )
    return app


async def start(app: web.Application, ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


@pytest.fixture(scope="module")
async def base_url() -> AsyncIterator[str]:
    runner, port = await start(make_app())
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (trusted by no one but the test that asks)."""
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
async def tls_url(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    runner, port = await start(make_app(), context)
    yield f"https://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    instance = AiohttpSender()
    yield instance
    await instance.aclose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_failure(result: AttemptResult, status: int | None) -> None:
    assert result.status_code == status
    assert not result.is_success
    assert result.error


async def test_default_sender_is_a_sender() -> None:
    instance = default_sender()
    try:
        assert isinstance(instance, WebhookSender)
    finally:
        await instance.aclose()


async def test_200_is_success(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/ok", BODY, HEADERS, 5)
    assert result == AttemptResult(
        status_code=200,
        duration_ms=result.duration_ms,
        is_success=True,
        error=None,
        response_body="thanks",
        retry_after=None,
        gone=False,
    )
    assert 0 <= result.duration_ms < 5000


async def test_204_is_success(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/no-content", BODY, HEADERS, 5)
    assert (result.status_code, result.is_success, result.response_body) == (204, True, "")


async def test_body_and_headers_arrive_unchanged(sender: WebhookSender, base_url: str) -> None:
    headers = {**HEADERS, "X-Kirem-Signature": "sha256=abc, sha256=def", "X-Custom": "tenant value"}
    result = await sender.send(f"{base_url}/echo", BODY, headers, 5)
    seen = json.loads(result.response_body)
    assert seen["method"] == "POST"
    assert seen["body"] == BODY.decode()
    assert seen["headers"]["User-Agent"] == "Kirem-Webhooks/test"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["X-Kirem-Signature"] == "sha256=abc, sha256=def"
    assert seen["headers"]["X-Custom"] == "tenant value"
    assert seen["headers"]["webhook-id"] == "evt_1"


async def test_connections_are_kept_alive(sender: WebhookSender, base_url: str) -> None:
    first = json.loads((await sender.send(f"{base_url}/echo", BODY, HEADERS, 5)).response_body)
    second = json.loads((await sender.send(f"{base_url}/echo", BODY, HEADERS, 5)).response_body)
    assert first["peer_port"] == second["peer_port"]


async def test_500_is_failure(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/fail", BODY, HEADERS, 5)
    assert_failure(result, 500)
    assert result.error == "HTTP 500"
    assert result.response_body == "boom"
    assert not result.gone


async def test_410_means_gone(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/gone", BODY, HEADERS, 5)
    assert_failure(result, 410)
    assert result.gone
    assert result.response_body == "unsubscribed"


async def test_redirect_is_not_followed(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/redirect", BODY, HEADERS, 5)
    assert_failure(result, 301)
    assert result.error == "redirect to /ok is not followed"


async def test_slow_server_times_out(sender: WebhookSender, base_url: str) -> None:
    started = time.perf_counter()
    result = await sender.send(f"{base_url}/slow", BODY, HEADERS, 0.5)
    elapsed = time.perf_counter() - started
    assert_failure(result, None)
    assert result.error == "timed out after 0.5s"
    assert 0.45 <= elapsed < 1.5
    assert 450 <= result.duration_ms < 1500


async def test_slow_body_times_out_and_fails(sender: WebhookSender, base_url: str) -> None:
    started = time.perf_counter()
    result = await sender.send(f"{base_url}/slow-body", BODY, HEADERS, 0.5)
    assert time.perf_counter() - started < 1.5
    assert_failure(result, 200)
    assert result.error == "timed out after 0.5s reading the response body"


async def test_sender_still_works_after_a_timeout(sender: WebhookSender, base_url: str) -> None:
    await sender.send(f"{base_url}/slow", BODY, HEADERS, 0.2)
    assert (await sender.send(f"{base_url}/ok", BODY, HEADERS, 5)).is_success


async def test_refused_port(sender: WebhookSender) -> None:
    port = free_port()
    result = await sender.send(f"http://127.0.0.1:{port}/hook", BODY, HEADERS, 5)
    assert_failure(result, None)
    assert result.error == f"connection to 127.0.0.1:{port} refused"


async def test_unknown_host(sender: WebhookSender) -> None:
    result = await sender.send("http://no-such-host.invalid/hook", BODY, HEADERS, 3)
    assert_failure(result, None)
    # without a resolver the lookup may hang instead of failing: then it is a timeout
    assert result.error in ("DNS lookup for no-such-host.invalid failed", "timed out after 3s")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "not a url", "http:///path", ""])
async def test_invalid_url(sender: WebhookSender, url: str) -> None:
    result = await sender.send(url, BODY, HEADERS, 5)
    assert_failure(result, None)
    assert result.error.startswith("invalid target URL")


async def test_untrusted_certificate_is_rejected(sender: WebhookSender, tls_url: str) -> None:
    result = await sender.send(f"{tls_url}/ok", BODY, HEADERS, 5)
    assert_failure(result, None)
    assert result.error.startswith("TLS certificate of 127.0.0.1 is not valid")


async def test_trusted_certificate_is_accepted(tls_url: str, certificate: tuple[Path, Path]) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    instance = AiohttpSender(ssl_context=context)
    try:
        result = await instance.send(f"{tls_url}/ok", BODY, HEADERS, 5)
    finally:
        await instance.aclose()
    assert result.is_success, result.error


async def test_tls_to_a_plain_http_port_fails_clearly(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(base_url.replace("http://", "https://") + "/ok", BODY, HEADERS, 5)
    assert_failure(result, None)
    assert result.error.startswith("TLS handshake with 127.0.0.1 failed")


async def test_endless_body_is_cut_at_20_kb(sender: WebhookSender, base_url: str) -> None:
    started = time.perf_counter()
    result = await sender.send(f"{base_url}/endless", BODY, HEADERS, 10)
    assert time.perf_counter() - started < 3
    assert result.is_success
    assert result.response_body == "a" * MAX_RESPONSE_BODY == "a" * 20480
    # the connection that was cut is not reused by mistake
    assert (await sender.send(f"{base_url}/ok", BODY, HEADERS, 5)).response_body == "thanks"


async def test_large_body_is_cut_at_20_kb(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/huge", BODY, HEADERS, 10)
    assert result.is_success
    assert result.response_body == "b" * 20480
    assert (await sender.send(f"{base_url}/ok", BODY, HEADERS, 5)).response_body == "thanks"


async def test_body_is_decoded_leniently(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/bad-utf8", BODY, HEADERS, 5)
    assert result.is_success
    assert result.response_body == "ok \ufffd\ufffd done"


async def test_retry_after_seconds(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/busy", BODY, HEADERS, 5)
    assert_failure(result, 503)
    assert result.retry_after == 120


async def test_retry_after_http_date(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/busy-date", BODY, HEADERS, 5)
    assert_failure(result, 429)
    assert result.retry_after is not None and 590 <= result.retry_after <= 600


async def test_cookies_are_never_sent_back(sender: WebhookSender, base_url: str) -> None:
    assert (await sender.send(f"{base_url}/cookie", BODY, HEADERS, 5)).is_success
    seen = json.loads((await sender.send(f"{base_url}/echo", BODY, HEADERS, 5)).response_body)
    assert "Cookie" not in seen["headers"]


async def test_concurrent_attempts_to_one_slow_target_do_not_block_another(base_url: str) -> None:
    """With the per-host cap filled by a slow target, another target is still served at once."""
    other_runner, other_port = await start(make_app())
    instance = AiohttpSender(limit_per_host=4)
    try:
        stuck = [asyncio.create_task(instance.send(f"{base_url}/slow", BODY, HEADERS, 1.5)) for _ in range(8)]
        await asyncio.sleep(0.2)
        result = await instance.send(f"http://127.0.0.1:{other_port}/ok", BODY, HEADERS, 5)
        assert result.is_success, result.error
        assert not any(task.done() for task in stuck)  # answered while the slow target held every slot
        results = await asyncio.gather(*stuck)
        # the second four waited for a slot inside the same timeout budget
        assert all(r.error == "timed out after 1.5s" for r in results)
    finally:
        await instance.aclose()
    await other_runner.cleanup()


async def test_send_never_raises_on_odd_input(sender: WebhookSender, base_url: str) -> None:
    result = await sender.send(f"{base_url}/ok", BODY, {"Bad\nHeader": "x"}, 5)
    assert not result.is_success
    assert result.error


async def raw_server(reply: bytes) -> tuple[asyncio.Server, int]:
    """A TCP server that reads the request head, writes ``reply`` (maybe nothing) and hangs up."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"", "127.0.0.1 closed the connection without a complete response"),
        (b"this is not HTTP\r\n\r\n", "invalid HTTP response from 127.0.0.1: "),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "127.0.0.1 closed the connection"),
    ],
)
async def test_broken_servers(sender: WebhookSender, reply: bytes, expected: str) -> None:
    server, port = await raw_server(reply)
    try:
        result = await sender.send(f"http://127.0.0.1:{port}/hook", BODY, HEADERS, 5)
    finally:
        server.close()
        await server.wait_closed()
    assert not result.is_success
    assert result.error.startswith(expected)
    assert result.duration_ms < 5000
