"""Sending through Meta: messages and read receipts, each one quota-checked and logged."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import invalid
from kirem.context import AppContext
from kirem.conversations.preview import preview
from kirem.conversations.service import conversation_for
from kirem.messaging.message_rules import (
    is_read_receipt,
    message_type_of,
    validate_message,
    validate_read_receipt,
)
from kirem.messaging.models import MessageLog
from kirem.messaging.statuses import apply_pending
from kirem.meta.client import MetaApiError, MetaUnavailable
from kirem.phones import digits, with_ascii_recipient
from kirem.tenancy.models import Channel
from kirem.tenancy.service import (
    Tenant,
    channel_token,
    consume_outbound_quota,
    release_outbound_quota,
    resolve_channel,
)


async def send_message(
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    body: Any,
    *,
    phone_number_id: str | None = None,
    channel: Channel | None = None,
    author: str = "api",
) -> tuple[dict[str, Any], bool]:
    """Send ``body`` as Meta would; return Meta's answer and whether it was a read receipt.

    An accepted message joins the conversation with its recipient (opened if there is none), as
    written by ``author`` (``api`` for /v1/messages, ``agent`` for MCP).
    """
    if is_read_receipt(body):
        return await mark_read(ctx, session, tenant, body, phone_number_id=phone_number_id), True
    body = with_ascii_recipient(body)
    errors = validate_message(body)
    if errors:
        raise invalid(errors)
    channel = channel or await resolve_channel(session, tenant, phone_number_id=phone_number_id)
    await consume_outbound_quota(session, tenant)
    log = MessageLog(
        project_id=tenant.project_id,
        channel_id=channel.id,
        recipient=(digits(body["to"]) or body["to"])[:64],
        sender=channel.display_phone_number,
        direction="outbound",
        type=str(message_type_of(body) or "text")[:32],
        status="pending",
        request=body,
        author=author,
        text=preview({**body, "type": message_type_of(body) or "text"}),
    )
    session.add(log)
    await session.commit()
    try:
        answer = await ctx.graph_for(channel).send_message(
            channel.phone_number_id, channel_token(ctx.sealer, channel), body
        )
    except MetaApiError as exc:
        await _record_refusal(session, tenant, log, exc.code, exc.message)
        raise
    except MetaUnavailable as exc:
        await _record_refusal(session, tenant, log, None, str(exc))
        raise
    messages = answer.get("messages") or [{}]
    log.message_id = messages[0].get("id")
    log.status = "accepted"
    contacts = answer.get("contacts") or [{}]
    wa_id = str(contacts[0].get("wa_id") or body["to"])
    if digits(wa_id):
        log.conversation_id = (await conversation_for(session, channel, wa_id)).id
    await apply_pending(session, log)
    await session.commit()
    return answer, False


async def _record_refusal(
    session: AsyncSession, tenant: Tenant, log: MessageLog, code: int | None, message: str
) -> None:
    log.status = "failed"
    log.error_code = code
    log.error_message = message
    await release_outbound_quota(session, tenant)
    await session.commit()


async def mark_read(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, body: Any, *, phone_number_id: str | None = None
) -> dict[str, Any]:
    errors = validate_read_receipt(body)
    if errors:
        raise invalid(errors)
    channel = await resolve_channel(session, tenant, phone_number_id=phone_number_id)
    payload = {"messaging_product": "whatsapp", "status": "read", **body}
    return await ctx.graph_for(channel).send_message(
        channel.phone_number_id, channel_token(ctx.sealer, channel), payload
    )


def graph_and_token(ctx: AppContext, channel: Channel) -> tuple[Any, str]:
    return ctx.graph_for(channel), channel_token(ctx.sealer, channel)
