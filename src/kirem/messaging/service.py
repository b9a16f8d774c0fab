"""Sending through Meta: messages and read receipts, each one checked, quota-counted and logged.

Every call to Meta on a key's behalf takes its channel's token from :func:`graph_and_token`, which
checks the key's and the channel's rules first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.customers import CustomerIds, customer_ids
from kirem.db.base import new_id, utcnow
from kirem.kit.enums import MessageStatus
from kirem.kit.errors import invalid
from kirem.messaging.ledger import Acceptance, ConversationOf, send_ledger
from kirem.messaging.message_rules import (
    is_read_receipt,
    message_type_of,
    meta_error_code,
    validate_message,
    validate_read_receipt,
)
from kirem.messaging.models import MessageLog
from kirem.messaging.preview import preview
from kirem.meta.client import GraphClient, MetaApiError, MetaUnavailable, first_object
from kirem.phones import digits, with_ascii_recipient
from kirem.tenancy.models import Channel
from kirem.tenancy.service import (
    Tenant,
    channel_token,
    check_channel_use,
    release_outbound_quota,
    resolve_channel,
)


async def send_message(
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    body: Any,
    *,
    conversation_of: ConversationOf,
    phone_number_id: str | None = None,
    channel: Channel | None = None,
    author: str = "api",
) -> tuple[dict[str, Any], bool]:
    """Send ``body`` as Meta would; return Meta's answer and whether it was a read receipt.

    An accepted message joins the conversation with its recipient (``conversation_of``), as
    written by ``author`` (``api`` for /v1/messages, ``agent`` for MCP).
    """
    if is_read_receipt(body):
        return await mark_read(ctx, session, tenant, body, phone_number_id=phone_number_id), True
    body = with_ascii_recipient(body)
    errors = validate_message(body)
    if errors:
        raise invalid(errors, meta_code=meta_error_code(errors))
    channel = channel or await resolve_channel(session, tenant, phone_number_id=phone_number_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    if session.in_transaction():  # a send whose key and channel came from the caches read nothing
        await session.commit()  # the caller's reads end here: no connection or snapshot held across the call
    message_type = str(message_type_of(body) or "text")[:32]
    log_id = new_id("msg")
    await send_ledger(ctx, conversation_of).open(
        tenant,
        {
            "id": log_id,
            "project_id": tenant.project_id,
            "channel_id": channel.id,
            "recipient": _phone_of(body)[:64],
            "recipient_user_id": body.get("recipient"),
            "sender": channel.display_phone_number,
            "direction": "outbound",
            "type": message_type,
            "status": MessageStatus.PENDING,
            "request": body,
            "author": author,
            "text": preview({**body, "type": message_type_of(body) or "text"}),
        },
    )
    try:
        answer = await graph.send_message(channel.phone_number_id, token, body)
    except MetaApiError as exc:
        await _record_refusal(ctx, tenant, log_id, exc.code, exc.message)
        raise
    except MetaUnavailable as exc:
        await _record_refusal(ctx, tenant, log_id, None, str(exc))
        raise
    message_id = first_object(answer, "messages").get("id")
    await send_ledger(ctx, conversation_of).accept(
        Acceptance(
            project_id=tenant.project_id,
            log_id=log_id,
            message_type=message_type,
            channel=channel,
            customer=addressee(body, first_object(answer, "contacts")),
            message_id=message_id if isinstance(message_id, str) and len(message_id) <= 255 else None,
        )
    )
    return answer, False


def addressee(body: dict[str, Any], contact: dict[str, Any] | None = None) -> CustomerIds:
    """Who a send went to: ``to`` (a number) or ``recipient`` (a BSUID), with what Meta's answer adds."""
    contact = contact or {}
    return customer_ids(
        phone=contact.get("wa_id") or body.get("to"),
        user_id=contact.get("user_id") or body.get("recipient"),
    )


def _phone_of(body: dict[str, Any]) -> str:
    """The customer's number a send names in ``to``; empty for a send to a BSUID (``recipient``)."""
    to = body.get("to")
    return (digits(to) or to) if isinstance(to, str) else ""


async def _record_refusal(
    ctx: AppContext, tenant: Tenant, log_id: str, code: int | None, message: str
) -> None:
    failed = {
        "status": MessageStatus.FAILED,
        "error_code": code,
        "error_message": message,
        "updated_at": utcnow(),
    }
    async with ctx.db.transaction() as session:
        await session.execute(update(MessageLog).where(MessageLog.id == log_id).values(failed))
        await release_outbound_quota(session, tenant)


async def mark_read(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, body: Any, *, phone_number_id: str | None = None
) -> dict[str, Any]:
    errors = validate_read_receipt(body)
    if errors:
        raise invalid(errors, meta_code=meta_error_code(errors))
    channel = await resolve_channel(session, tenant, phone_number_id=phone_number_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    payload = {"messaging_product": "whatsapp", "status": "read", **body}
    return await graph.send_message(channel.phone_number_id, token, payload)


def graph_and_token(ctx: AppContext, tenant: Tenant, channel: Channel) -> tuple[GraphClient, str]:
    """The Graph client and access token for a call through ``channel`` on ``tenant``'s behalf.

    The only way to a channel's token: every send, read receipt, media, template and profile call
    gets it here, whichever route found the channel, so the key's and the channel's rules
    (:func:`kirem.tenancy.service.check_channel_use`: test keys only on sandbox channels, active
    channels of the key's own project) are checked before anything reaches Meta or is counted.
    """
    check_channel_use(tenant, channel)
    return ctx.graph_for(channel.kind), channel_token(ctx.sealer, channel)
