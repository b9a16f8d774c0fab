"""Sending through Meta: messages and read receipts, each one checked, quota-counted and logged.

Every call to Meta on a key's behalf takes its channel's token from :func:`graph_and_token`, which
checks the key's and the channel's rules first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.customers import CustomerIds, customer_ids
from kirem.kit.enums import MessageStatus
from kirem.kit.errors import DomainError, invalid
from kirem.messaging.message_rules import (
    is_read_receipt,
    message_type_of,
    meta_error_code,
    validate_message,
    validate_read_receipt,
)
from kirem.messaging.models import MessageLog
from kirem.messaging.preview import preview
from kirem.messaging.statuses import apply_pending
from kirem.meta.client import GraphClient, MetaApiError, MetaUnavailable, first_object
from kirem.phones import digits, with_ascii_recipient
from kirem.tenancy.models import Channel
from kirem.tenancy.service import (
    Tenant,
    channel_token,
    check_channel_use,
    consume_outbound_quota,
    release_outbound_quota,
    resolve_channel,
)
from kirem.usage import meter as usage

ConversationOf = Callable[[AsyncSession, Channel, CustomerIds], Awaitable[str]]
"""The id of the conversation a sent message joins: ``kirem.conversations.service.joined_conversation``."""


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
    log = MessageLog(
        project_id=tenant.project_id,
        channel_id=channel.id,
        recipient=_phone_of(body)[:64],
        recipient_user_id=body.get("recipient"),
        sender=channel.display_phone_number,
        direction="outbound",
        type=str(message_type_of(body) or "text")[:32],
        status=MessageStatus.PENDING,
        request=body,
        author=author,
        text=preview({**body, "type": message_type_of(body) or "text"}),
    )
    session.add(log)
    try:
        # counted last: the account's quota row stays locked only until the commit just after
        await consume_outbound_quota(session, tenant)
    except DomainError:
        await session.rollback()
        raise
    await session.commit()
    try:
        answer = await graph.send_message(channel.phone_number_id, token, body)
    except MetaApiError as exc:
        await _record_refusal(session, tenant, log, exc.code, exc.message)
        raise
    except MetaUnavailable as exc:
        await _record_refusal(session, tenant, log, None, str(exc))
        raise
    customer = addressee(body, first_object(answer, "contacts"))
    conversation_id = await conversation_of(session, channel, customer) if customer.known else None
    message_id = first_object(answer, "messages").get("id")
    log.message_id = message_id if isinstance(message_id, str) and len(message_id) <= 255 else None
    log.status = MessageStatus.ACCEPTED
    log.conversation_id = conversation_id
    await apply_pending(session, log)
    await usage.count(session, tenant.project_id, {usage.outbound(log.type): 1})
    await session.commit()
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
    session: AsyncSession, tenant: Tenant, log: MessageLog, code: int | None, message: str
) -> None:
    log.status = MessageStatus.FAILED
    log.error_code = code
    log.error_message = message
    await release_outbound_quota(session, tenant)
    await session.commit()


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
