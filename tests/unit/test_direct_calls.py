"""Direct calls through the pooled aiohttp transport (Graph calls, the sandbox's webhook posts)
send and answer what the same calls through httpx do."""

from __future__ import annotations

import gzip
import socket
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from kirem.meta import transport
from kirem.meta.client import GraphClient, MetaApiError, MetaUnavailable
from kirem.meta.transport import AiohttpTransport
from kirem.sandbox.webhooks import SIGNATURE_HEADER, WebhookSender, sign

SENT = b'{"messaging_product":"whatsapp","messages":[{"id":"wamid.X"}]}'


@dataclass
class Seen:
    requests: list[tuple[str, str, Mapping[str, str], bytes]] = field(default_factory=list)


SEEN = web.AppKey("seen", Seen)


async def _answer(request: web.Request) -> web.Response:
    seen: Seen = request.app[SEEN]
    body = await request.read()
    seen.requests.append((request.method, request.path_qs, request.headers.copy(), body))
    if request.path.endswith("/refused") or request.path_qs.endswith("?refuse"):
        return web.json_response({"error": {"code": 131030, "message": "not allowed"}}, status=400)
    if request.path.endswith("/zipped"):
        return web.Response(body=gzip.compress(SENT), headers={"Content-Encoding": "gzip"})
    return web.Response(body=SENT, content_type="application/json")


@pytest.fixture
async def graph_url() -> AsyncIterator[tuple[str, Seen]]:
    app = web.Application()
    app[SEEN] = Seen()
    app.router.add_route("*", "/{tail:.*}", _answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", app[SEEN]
    await runner.cleanup()


def _clients(url: str) -> tuple[GraphClient, GraphClient]:
    """The same client twice: once taking the direct path, once all through httpx."""
    made = []
    for direct in (True, False):
        pooled = AiohttpTransport()
        http = httpx.AsyncClient(base_url=url, timeout=5, transport=pooled, headers={"User-Agent": "Kirem"})
        made.append(GraphClient(http, "v23.0", direct=pooled if direct else None))
    return made[0], made[1]


async def test_a_send_is_the_same_request_and_answer_either_way(graph_url: tuple[str, Seen]) -> None:
    url, seen = graph_url
    direct, through_httpx = _clients(url)
    body = {"messaging_product": "whatsapp", "to": "15551234567", "text": {"body": "héllo ✓"}}
    answers = [await client.send_message("1234", "tok", body) for client in (direct, through_httpx)]
    assert answers[0] == answers[1] == {"messaging_product": "whatsapp", "messages": [{"id": "wamid.X"}]}
    (method_a, path_a, headers_a, body_a), (method_b, path_b, headers_b, body_b) = seen.requests
    assert (method_a, path_a, body_a) == (method_b, path_b, body_b)
    assert (method_a, path_a) == ("POST", "/v23.0/1234/messages")
    assert body_a == '{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"héllo ✓"}}'.encode()
    for name in ("Authorization", "Content-Type", "User-Agent", "Accept"):
        assert headers_a[name] == headers_b[name], name
    assert headers_a["Authorization"] == "Bearer tok"
    for client in (direct, through_httpx):
        await client.aclose()


async def test_compressed_answers_and_error_bodies(graph_url: tuple[str, Seen]) -> None:
    url, _ = graph_url
    direct, through_httpx = _clients(url)
    for client in (direct, through_httpx):
        assert await client._call("POST", "/v23.0/1/zipped", "tok", json={}) == {
            "messaging_product": "whatsapp",
            "messages": [{"id": "wamid.X"}],
        }
        with pytest.raises(MetaApiError) as refused:
            await client._call("POST", "/v23.0/1/refused", "tok", json={"a": 1})
        assert (refused.value.http_status, refused.value.code) == (400, 131030)
        await client.aclose()


async def test_unreachable_graph_fails_the_same_way() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    messages = []
    for client in _clients(f"http://127.0.0.1:{port}"):
        with pytest.raises(MetaUnavailable) as failed:
            await client.send_message("1234", "tok", {"to": "1"})
        messages.append(str(failed.value))
        await client.aclose()
    assert messages == ["Meta API request failed: ConnectError"] * 2


async def test_a_call_with_query_parameters_goes_through_httpx(graph_url: tuple[str, Seen]) -> None:
    url, seen = graph_url
    direct, _ = _clients(url)
    await direct.get_profile("1234", "tok", "about")
    assert seen.requests[-1][1] == "/v23.0/1234/whatsapp_business_profile?fields=about"
    await direct.aclose()


def _senders(url: str) -> tuple[WebhookSender, WebhookSender]:
    made = []
    for direct in (True, False):
        pooled = AiohttpTransport()
        http = httpx.AsyncClient(timeout=5, transport=pooled)
        made.append(WebhookSender(http, url, "s3cret", direct=pooled if direct else None))
    return made[0], made[1]


async def test_webhook_posts_are_the_same_either_way(graph_url: tuple[str, Seen]) -> None:
    url, seen = graph_url
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    for sender in _senders(f"{url}/webhooks/meta"):
        assert await sender.attempt(body) is None
        sender.url += "?refuse"
        assert await sender.attempt(body) == "HTTP 400"
        await sender.client.aclose()
    posted = [request for request in seen.requests if request[1] == "/webhooks/meta"]
    assert len(posted) == 2
    for method, _, headers, received in posted:
        assert (method, received) == ("POST", body)
        assert headers[SIGNATURE_HEADER] == sign("s3cret", body)
        assert headers["Content-Type"] == "application/json"
    assert posted[0][2]["User-Agent"] == posted[1][2]["User-Agent"]


async def test_an_unreachable_kirem_is_the_same_failure_either_way() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failures = []
    for sender in _senders(f"http://127.0.0.1:{port}/webhooks/meta"):
        failures.append(await sender.attempt(b"{}"))
        await sender.client.aclose()
    assert failures[0] == failures[1]
    assert failures[0] is not None and failures[0].startswith("ConnectError: ")


async def test_the_tls_context_is_built_with_the_transport_not_in_the_first_call(
    graph_url: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA roots blocks the event loop for tens of milliseconds: start-up pays it, once
    per process, and no request does."""
    built: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counted(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(create(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)
    transport.verified_tls.cache_clear()
    clients = _clients(graph_url[0])
    assert len(built) == 1
    for client in clients:
        await client.send_message("1234", "tok", {"messaging_product": "whatsapp", "to": "1"})
        await client.aclose()
    assert len(built) == 1
    transport.verified_tls.cache_clear()
