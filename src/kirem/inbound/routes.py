"""``/webhooks/meta``: Meta's verification handshake and signed event deliveries."""

from __future__ import annotations

import hmac

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse

from kirem.api.deps import get_context
from kirem.api.responses import ApiError, ok
from kirem.api.schemas import Envelope, json_only, request_body, responses
from kirem.context import AppContext
from kirem.db.group_commit import BatchFailed
from kirem.inbound.schemas import META_WEBHOOK_EXAMPLE, MetaWebhook, Received
from kirem.meta.signatures import verify

router = APIRouter(tags=["meta webhooks"])
HANDSHAKE_ERRORS = json_only(
    responses(400, 403, r403="The verify token does not match KIREM_META_VERIFY_TOKEN")
)
"""The handshake answers text, its refusals the error wrapper."""


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
    mode: str | None = Query(None, alias="hub.mode"),
    token: str | None = Query(None, alias="hub.verify_token"),
    challenge: str | None = Query(None, alias="hub.challenge"),
    ctx: AppContext = Depends(get_context),
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
async def receive(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    """Check the signature, commit the raw body (with its neighbours' bodies), answer 200; process after."""
    body = await request.body()
    source = signature_source(ctx, body, request.headers.get("x-hub-signature-256"))
    if source is None:
        raise ApiError(401, "Missing or invalid X-Hub-Signature-256")
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "Malformed JSON body") from exc
    if not isinstance(envelope, dict):
        raise ApiError(400, "Webhook body must be a JSON object")
    try:
        await request.app.state.raw_events.store(source, body)
    except BatchFailed as exc:
        raise ApiError(
            503, "The event could not be stored; send it again", headers={"Retry-After": "1"}
        ) from exc
    ctx.metrics.inbound_webhooks.labels(source).inc()
    return ok({"received": True}, "Event received")
