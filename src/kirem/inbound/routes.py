"""``/webhooks/meta``: Meta's verification handshake and signed event deliveries."""

from __future__ import annotations

import hmac

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from kirem.api.deps import ContextDep
from kirem.api.responses import ApiError, error_response, ok
from kirem.api.schemas import Envelope, json_only, request_body, responses
from kirem.context import AppContext
from kirem.db.group_commit import BatchFailed
from kirem.inbound.ingest import RawEventStore
from kirem.inbound.schemas import META_WEBHOOK_EXAMPLE, MetaWebhook, Received
from kirem.meta.signatures import verify

router = APIRouter(tags=["meta webhooks"])
HANDSHAKE_ERRORS = json_only(
    responses(400, 403, r403="The verify token does not match KIREM_META_VERIFY_TOKEN")
)
"""The handshake answers text, its refusals the error wrapper."""
RECEIVED = ok({"received": True}, "Event received")
"""The answer to every stored webhook (a response sends the same bytes each time)."""


def signature_source(ctx: AppContext, body: bytes, header: str | None) -> str | None:
    """``meta`` or ``sandbox`` for whichever app secret signed the body, else ``None``.

    The sandbox's secret is accepted only while the sandbox is on: it plays Meta for sandbox channels.
    """
    if ctx.settings.meta_app_secret and verify([ctx.settings.meta_app_secret], body, header):
        return "meta"
    if ctx.sandbox_app_secret and verify([ctx.sandbox_app_secret], body, header):
        return "sandbox"
    return None


@router.get(
    "/webhooks/meta",
    summary="Meta's subscription handshake",
    response_class=PlainTextResponse,
    responses={
        200: {
            "description": "`hub.challenge`, echoed",
            "content": {"text/plain": {"example": "1158201444"}},
        },
        **HANDSHAKE_ERRORS,
    },
)
async def verify_subscription(
    ctx: ContextDep,
    mode: str | None = Query(None, alias="hub.mode"),
    token: str | None = Query(None, alias="hub.verify_token"),
    challenge: str | None = Query(None, alias="hub.challenge"),
) -> Response:
    expected = ctx.settings.meta_verify_token
    if mode != "subscribe" or not challenge:
        raise ApiError(400, "Expected hub.mode=subscribe with hub.challenge")
    if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(403, "Verify token does not match KIREM_META_VERIFY_TOKEN")
    return PlainTextResponse(challenge)


@router.post(
    "/webhooks/meta",
    summary="Signed events from Meta (or the sandbox)",
    response_model=Envelope[Received],
    responses=responses(
        400, 401, 413, 503, r401="Missing or invalid X-Hub-Signature-256 (HMAC-SHA256 of the body)"
    ),
    openapi_extra=request_body(MetaWebhook, META_WEBHOOK_EXAMPLE),
)
async def receive(request: Request) -> Response:
    """Check the signature, commit the raw body (with its neighbours' bodies), answer 200; process after."""
    body = await request.body()
    await accept(
        request.app.state.ctx, request.app.state.raw_events, body, request.headers.get("x-hub-signature-256")
    )
    return RECEIVED


async def accept(ctx: AppContext, raw_events: RawEventStore, body: bytes, signature: str | None) -> None:
    """What :func:`receive` does with a body: returns once it is stored, else raises its ApiError."""
    source = signature_source(ctx, body, signature)
    if source is None:
        raise ApiError(401, "Missing or invalid X-Hub-Signature-256")
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "Malformed JSON body") from exc
    if not isinstance(envelope, dict):
        raise ApiError(400, "Webhook body must be a JSON object")
    try:
        await raw_events.store(source, body)
    except BatchFailed as exc:
        raise ApiError(
            503, "The event could not be stored; send it again", headers={"Retry-After": "1"}
        ) from exc
    ctx.metrics.inbound_webhooks.labels(source).inc()


async def receive_in_process(ctx: AppContext, raw_events: RawEventStore, body: bytes, signature: str) -> int:
    """The status :func:`receive` would answer a post of ``body``: the sandbox's webhooks in this process.

    Same checks (the body limit of ``/webhooks/meta`` included), same durable store and group commit;
    only uvicorn and the HTTP round trip are skipped.
    """
    if len(body) > ctx.settings.max_webhook_bytes:
        return 413
    try:
        await accept(ctx, raw_events, body, signature)
    except ApiError as exc:
        return exc.status
    return 200


async def receive_directly(scope: Scope, receive_message: Receive, send: Send) -> None:
    """:func:`receive` as a plain ASGI app, which the app's edge serves ahead of FastAPI's routing.

    The route above stays declared for the OpenAPI document; its refusals leave in the error
    wrapper here as the app's error handlers would send them.
    """
    try:
        response = await receive(Request(scope, receive_message))
    except ApiError as exc:
        response = error_response(exc)
    await response(scope, receive_message, send)
