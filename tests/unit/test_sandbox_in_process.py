"""The sandbox inside Kirem's own process: Graph calls answered by calling its app directly, and its
webhooks handed to Kirem's receiver without HTTP, with the answers and checks of the HTTP paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select
from yarl import URL

from kirem.app import create_app
from kirem.config import Settings
from kirem.context import AppContext
from kirem.db.migrate import upgrade_async
from kirem.inbound.models import RawEvent
from kirem.inbound.routes import receive_in_process
from kirem.meta.client import GraphClient
from kirem.meta.transport import AsgiExchange
from kirem.sandbox.provisioning import ProvisionedNumber, provision_number
from kirem.sandbox.runtime import SandboxRuntime
from kirem.sandbox.webhooks import WebhookSender, sign


@asynccontextmanager
async def hosted(settings: Settings) -> AsyncIterator[tuple[FastAPI, AppContext, ProvisionedNumber]]:
    """Kirem with its sandbox, started (entered inside the test: the lifespan's task group needs one task)."""
    await upgrade_async(settings)
    app = create_app(settings)
    ctx: AppContext = app.state.ctx
    async with app.router.lifespan_context(app):
        async with ctx.db.transaction() as session:
            number = await provision_number(session)
        yield app, ctx, number


def _sandbox(ctx: AppContext) -> tuple[GraphClient, AsgiExchange]:
    graph = ctx.sandbox_graph
    assert graph is not None and isinstance(graph.direct, AsgiExchange)
    return graph, graph.direct


def _runtime(exchange: AsgiExchange) -> SandboxRuntime:
    app: Any = exchange.app
    runtime: SandboxRuntime = app.state.sandbox
    return runtime


def _traceless(content: bytes) -> Any:
    """A Graph error body without its ``fbtrace_id``, which differs on every answer."""
    body = orjson.loads(content)
    body["error"].pop("fbtrace_id")
    return body


SEND = {"messaging_product": "whatsapp", "to": "62812345678", "type": "template"}
SEND["template"] = {"name": "hello_world", "language": {"code": "en_US"}}


async def test_a_direct_call_answers_what_the_same_call_through_httpx_answers(settings: Settings) -> None:
    async with hosted(settings) as (_, ctx, number):
        await _compare_answers(ctx, number)


async def _compare_answers(ctx: AppContext, number: ProvisionedNumber) -> None:
    graph, exchange = _sandbox(ctx)
    path = f"/v23.0/{number.phone_number_id}/messages"
    url = URL(str(graph.http.base_url).rstrip("/") + path, encoded=True)
    cases: list[tuple[dict[str, str], bytes | None]] = [
        ({}, orjson.dumps(SEND)),  # no token
        ({"Authorization": "Bearer wrong"}, orjson.dumps(SEND)),
        ({"Authorization": f"Bearer {number.access_token}"}, b"[1]"),
        ({"Authorization": f"Bearer {number.access_token}"}, orjson.dumps({**SEND, "type": "nope"})),
        ({"Authorization": f"Bearer {number.access_token}"}, None),
    ]
    for headers, body in cases:
        through_httpx = await graph.http.post(path, content=body, headers=headers)
        sent = [*headers.items(), ("Content-Type", "application/json")]
        status, content = await exchange.exchange("POST", url, sent, body, graph.http.timeout)
        assert status == through_httpx.status_code >= 400
        assert _traceless(content) == _traceless(through_httpx.content)
    accepted = await graph.send_message(number.phone_number_id, number.access_token, SEND)
    assert accepted["contacts"] == [{"input": "62812345678", "wa_id": "62812345678"}]
    assert accepted["messages"][0]["message_status"] == "accepted"


async def test_the_statuses_of_a_send_reach_kirem_in_process(settings: Settings) -> None:
    async with hosted(settings) as (_, ctx, number):
        await _send_and_read_back(ctx, number)


async def _send_and_read_back(ctx: AppContext, number: ProvisionedNumber) -> None:
    graph, exchange = _sandbox(ctx)
    runtime = _runtime(exchange)
    assert runtime.webhooks.in_process is not None
    accepted = await graph.send_message(number.phone_number_id, number.access_token, SEND)
    await runtime.idle()
    async with ctx.db.session() as session:
        stored = (await session.execute(select(RawEvent.source, RawEvent.body).order_by(RawEvent.id))).all()
    statuses = [orjson.loads(body)["entry"][0]["changes"][0]["value"]["statuses"][0] for _, body in stored]
    assert [source for source, _ in stored] == ["sandbox"] * 3
    assert [(s["id"], s["status"]) for s in statuses] == [
        (accepted["messages"][0]["id"], status) for status in ("sent", "delivered", "read")
    ]


async def test_with_a_public_url_the_sandbox_posts_its_webhooks_over_http(settings: Settings) -> None:
    proxied = settings.model_copy(update={"public_url": "https://kirem.example"})
    async with hosted(proxied) as (_, ctx, _):
        assert _runtime(_sandbox(ctx)[1]).webhooks.in_process is None


async def test_the_in_process_receiver_refuses_what_the_route_refuses(settings: Settings) -> None:
    async with hosted(settings) as (app, ctx, _):
        await _refusals(app, ctx)


async def _refusals(app: FastAPI, ctx: AppContext) -> None:
    secret = ctx.sandbox_app_secret
    assert secret is not None
    raw_events = app.state.raw_events
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    assert await receive_in_process(ctx, raw_events, body, sign(secret, body)) == 200
    assert await receive_in_process(ctx, raw_events, body, sign("not the secret", body)) == 401
    assert await receive_in_process(ctx, raw_events, b"[1]", sign(secret, b"[1]")) == 400
    small = ctx.settings.model_copy(update={"max_webhook_bytes": 10})
    limited = AppContext(
        settings=small,
        db=ctx.db,
        sealer=ctx.sealer,
        live_graph=ctx.live_graph,
        sandbox_graph=None,
        limiter=ctx.limiter,
        sandbox_app_secret=secret,
        metrics=ctx.metrics,
    )
    assert await receive_in_process(limited, raw_events, body, sign(secret, body)) == 413


async def test_a_failing_in_process_receiver_is_a_failed_attempt_to_retry() -> None:
    seen: list[tuple[bytes, str]] = []

    async def refusing(body: bytes, signature: str) -> int:
        seen.append((body, signature))
        return 503

    async def crashing(body: bytes, signature: str) -> int:
        raise RuntimeError("boom")

    async with httpx.AsyncClient() as client:
        sender = WebhookSender(client, "http://kirem/webhooks/meta", "secret", in_process=refusing)
        assert await sender.attempt(b"{}") == "HTTP 503"
        assert seen == [(b"{}", sign("secret", b"{}"))]
        sender = WebhookSender(client, "http://kirem/webhooks/meta", "secret", in_process=crashing)
        assert await sender.attempt(b"{}") == "RuntimeError: boom"
