"""Conversations: opened by customers, fed by every message both ways, answered by people and agents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.conversations.book import ConversationBook
from kirem.conversations.models import CONVERSATION_STATUSES, ChannelContact, Conversation
from kirem.customers import CustomerIds, identifier
from kirem.db.base import new_id, new_uuid, utcnow
from kirem.db.scope import for_project, get_owned, insert_all_if_absent, insert_if_absent
from kirem.kit.enums import ChannelStatus, ConversationStatus
from kirem.kit.errors import Conflict, found, invalid, not_found
from kirem.kit.paging import last_page, page_of, rows_of
from kirem.kit.params import iso
from kirem.kit.views import view_of
from kirem.messaging.models import MessageLog
from kirem.messaging.preview import preview
from kirem.messaging.service import send_message
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant

SERVICE_WINDOW = timedelta(hours=24)
MESSAGE_ID_LENGTH = 255
"""The length of ``message_logs.message_id``: longer ids (never Meta's) are kept cut, consistently."""


def window_open(conversation: Conversation, now: datetime | None = None) -> bool:
    last = conversation.last_customer_message_at
    return last is not None and (now or utcnow()) - last < SERVICE_WINDOW


def human_active(conversation: Conversation, now: datetime | None = None) -> bool:
    until = conversation.human_active_until
    return until is not None and (now or utcnow()) < until


CONVERSATION_FIELDS = (
    "id status customer_phone customer_user_id customer_parent_user_id customer_username customer_name"
    " channel_id last_customer_message_at window_open human_active_until updated_at created_at"
)
TIMELINE_FIELDS = "id message_id sender direction type text status error_message created_at"
CONTACT_FIELDS = "wa_id user_id username full_name first_name channel_id updated_at"


def conversation_view(conversation: Conversation) -> dict[str, Any]:
    return view_of(
        conversation,
        CONVERSATION_FIELDS,
        customer_phone=conversation.customer_wa_id,
        window_open=window_open(conversation),
        human_active_until=iso(conversation.human_active_until) if human_active(conversation) else None,
    )


def timeline_entry_view(log: MessageLog) -> dict[str, Any]:
    return view_of(
        log,
        TIMELINE_FIELDS,
        sender=log.author or ("customer" if log.direction == "inbound" else "api"),
        created_at=iso(log.occurred_at or log.created_at),
    )


def epoch(value: Any, default: datetime) -> datetime:
    """Meta's string epoch seconds as a datetime (``default`` when absent or unreadable)."""
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return default


# Finding and opening conversations ---------------------------------------------------------


class JoinedConversation:
    """What the send path is told about conversations (``kirem.messaging.ledger.ConversationOf``):
    the conversation a message sent to a customer joins, opened if there is none."""

    async def __call__(self, session: AsyncSession, channel: Channel, customer: CustomerIds) -> str:
        return (await conversation_for(session, channel, customer)).id

    async def by_phone(
        self, session: AsyncSession, wanted: dict[tuple[str, str], str], now: datetime
    ) -> dict[tuple[str, str], str]:
        return await conversations_by_phone(session, wanted, now)


joined_conversation = JoinedConversation()


def _ids(customer: CustomerIds | str) -> CustomerIds:
    return identifier(customer) if isinstance(customer, str) else customer


async def conversation_for(
    session: AsyncSession,
    channel: Channel,
    customer: CustomerIds | str,
    *,
    name: str = "",
    now: datetime | None = None,
) -> Conversation:
    """The channel's conversation with this customer, created (``open``) when there is none.

    ``customer`` is every identifier known (or one string: a BSUID, else a phone number); see
    :meth:`ConversationBook.conversation_for`.
    """
    return await ConversationBook(session).conversation_for(channel, _ids(customer), name=name, now=now)


async def conversations_by_phone(
    session: AsyncSession, wanted: dict[tuple[str, str], str], now: datetime | None = None
) -> dict[tuple[str, str], str]:
    """Conversation ids by (channel id, phone) for customers known by number alone, created as needed.

    ``wanted`` maps each (channel id, phone) to the channel's project. This is what
    :func:`conversation_for` does for each such customer (nothing to learn, nothing to merge: one
    conversation per channel and number), with one query, one multi-row insert-if-absent for the
    new ones and one query for those, for a whole batch of sends.
    """

    async def found(keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        stmt = select(Conversation.id, Conversation.channel_id, Conversation.customer_wa_id).where(
            Conversation.channel_id.in_({channel_id for channel_id, _ in keys}),
            Conversation.customer_wa_id.in_({phone for _, phone in keys}),
        )
        rows = (await session.execute(stmt)).all()
        return {
            (row.channel_id, row.customer_wa_id): row.id
            for row in rows
            if (row.channel_id, row.customer_wa_id) in keys
        }

    if not wanted:
        return {}
    ids = await found(set(wanted))
    missing = sorted(key for key in wanted if key not in ids)
    if missing:
        now = now or utcnow()
        new = {
            "customer_user_id": None,
            "customer_parent_user_id": None,
            "customer_username": None,
            "customer_name": "",
            "status": ConversationStatus.OPEN,
            "created_at": now,
            "updated_at": now,
        }
        rows = [
            {
                **new,
                "id": new_uuid(),
                "project_id": wanted[key],
                "channel_id": key[0],
                "customer_wa_id": key[1],
            }
            for key in missing
        ]
        await insert_all_if_absent(session, Conversation, rows)
        ids |= await found(set(missing))
    return ids


async def customer_wrote(
    session: AsyncSession, channel: Channel, customer: CustomerIds | str, name: str, at: datetime
) -> Conversation:
    """A customer message: opens the conversation (or reopens a resolved one), refreshes the window."""
    return await ConversationBook(session).customer_wrote(channel, _ids(customer), name, at)


async def owner_wrote(
    session: AsyncSession, channel: Channel, customer: CustomerIds | str, handover_seconds: float
) -> Conversation:
    """An echo from the phone app: a human is answering, so agents hold back for a while."""
    return await ConversationBook(session).owner_wrote(channel, _ids(customer), handover_seconds)


def message_row(
    channel: Channel,
    conversation_id: str | None,
    message: dict[str, Any],
    *,
    direction: str,
    author: str,
    status: str,
    occurred_at: datetime,
    customer: CustomerIds,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The ``message_logs`` row of a message Meta reported, every column set (a Core insert's row)."""
    created_at = created_at or utcnow()
    return {
        "id": new_id("msg"),
        "project_id": channel.project_id,
        "channel_id": channel.id,
        "conversation_id": conversation_id,
        "message_id": str(message.get("id") or "")[:MESSAGE_ID_LENGTH] or None,
        "recipient": channel.display_phone_number if direction == "inbound" else customer.phone or "",
        "recipient_user_id": customer.user_id if direction == "outbound" else None,
        "sender": customer.address if direction == "inbound" else channel.display_phone_number,
        "direction": direction,
        "type": str(message.get("type") or "unknown")[:32],
        "status": status,
        "error_code": None,
        "error_message": None,
        "author": author,
        "text": preview(message),
        "request": message,
        "occurred_at": occurred_at,
        "created_at": created_at,
        "updated_at": created_at,
    }


async def seen_message(session: AsyncSession, project_id: str, message_id: str) -> bool:
    stmt = select(MessageLog.id).where(
        MessageLog.project_id == project_id, MessageLog.message_id == message_id[:MESSAGE_ID_LENGTH]
    )
    return (await session.scalar(stmt.limit(1))) is not None


async def sync_contact(
    session: AsyncSession,
    channel: Channel,
    customer: CustomerIds | str,
    action: str,
    full_name: str,
    first_name: str,
) -> None:
    """A contact added, changed or removed on the phone, found by phone number or BSUID."""
    ids = _ids(customer)
    if not ids.known:
        return
    found = await _contacts_of(session, channel, ids)
    if action == "remove":
        for contact in found:
            await session.delete(contact)
        return
    if not found:
        values = {"project_id": channel.project_id, "channel_id": channel.id}
        await insert_if_absent(session, ChannelContact, **values, wa_id=ids.phone, user_id=ids.user_id)
        found = await _contacts_of(session, channel, ids)
    contact, *others = found
    for other in others:  # the same person seen by number and by BSUID: one contact
        await session.delete(other)
    if others:
        await session.flush()
    contact.wa_id = ids.phone or contact.wa_id
    contact.user_id = ids.user_id or contact.user_id
    contact.username = ids.username or contact.username
    contact.full_name = full_name[:200]
    contact.first_name = first_name[:200]
    contact.updated_at = utcnow()


async def _contacts_of(session: AsyncSession, channel: Channel, ids: CustomerIds) -> list[ChannelContact]:
    keys = []
    if ids.phone:
        keys.append(ChannelContact.wa_id == ids.phone)
    if ids.user_id:
        keys.append(ChannelContact.user_id == ids.user_id)
    stmt = (
        select(ChannelContact)
        .where(ChannelContact.channel_id == channel.id, or_(*keys))
        .order_by(ChannelContact.id)
    )
    return await rows_of(session, stmt)


def address_of(conversation: Conversation) -> dict[str, str]:
    """Where a reply goes: ``{"to": phone}``, or ``{"recipient": BSUID}`` when no number is known."""
    if conversation.customer_wa_id:
        return {"to": conversation.customer_wa_id}
    return {"recipient": conversation.customer_user_id or ""}


# Reading -------------------------------------------------------------------------------------


def parse_id(conversation_id: str) -> str:
    """Conversation ids are UUIDs; anything else is simply not found (never a database error)."""
    try:
        return str(uuid.UUID(str(conversation_id)))
    except ValueError as exc:
        raise not_found("Conversation") from exc


async def get_conversation(session: AsyncSession, project_id: str, conversation_id: str) -> Conversation:
    conversation = await get_owned(session, Conversation, parse_id(conversation_id), project_id)
    return found(conversation, "Conversation")


async def list_conversations(
    session: AsyncSession,
    project_id: str,
    *,
    status: str | None,
    limit: int,
    offset: int,
    customer: str | None = None,
    channel_id: str | None = None,
    username: str | None = None,
) -> tuple[int, list[Conversation]]:
    if status is not None and status not in CONVERSATION_STATUSES:
        raise invalid({"status": f"must be one of {', '.join(CONVERSATION_STATUSES)}"})
    ids = identifier(customer) if customer else CustomerIds()
    if customer and not ids.known:
        raise invalid(
            {"customer": "must be a phone number (its digits, in any script) or a BSUID such as US.1349…"},
            "Invalid query parameters",
        )
    stmt = for_project(Conversation, project_id)
    if status:
        stmt = stmt.where(Conversation.status == status)
    if ids.user_id:
        stmt = stmt.where(Conversation.customer_user_id == ids.user_id)
    elif ids.phone:
        stmt = stmt.where(Conversation.customer_wa_id == ids.phone)
    if channel_id:
        stmt = stmt.where(Conversation.channel_id == channel_id)
    if username:
        stmt = stmt.where(func.lower(Conversation.customer_username) == username.lower().lstrip("@"))
    return await page_of(
        session, stmt, (Conversation.updated_at.desc(), Conversation.id), limit=limit, offset=offset
    )


TIMELINE_ORDER = (MessageLog.occurred_at, MessageLog.created_at, MessageLog.id)


def _messages_of(project_id: str, conversation: Conversation) -> Select[MessageLog]:
    return for_project(MessageLog, project_id).where(MessageLog.conversation_id == conversation.id)


async def timeline(
    session: AsyncSession, project_id: str, conversation: Conversation, *, limit: int, offset: int
) -> tuple[int, list[MessageLog]]:
    """Every message of the conversation, oldest first."""
    stmt = _messages_of(project_id, conversation)
    return await page_of(session, stmt, TIMELINE_ORDER, limit=limit, offset=offset)


async def latest_timeline(
    session: AsyncSession, project_id: str, conversation: Conversation, *, limit: int, back: int = 0
) -> tuple[int, list[MessageLog]]:
    """The conversation's newest ``limit`` messages (``back`` pages further back), oldest first, and
    how many it has, read together (:func:`kirem.kit.paging.last_page`)."""
    stmt = _messages_of(project_id, conversation)
    return await last_page(session, stmt, TIMELINE_ORDER, limit=limit, back=back)


async def set_status(
    session: AsyncSession, project_id: str, conversation_id: str, status: Any
) -> Conversation:
    if status not in CONVERSATION_STATUSES:
        raise invalid({"status": f"must be one of {', '.join(CONVERSATION_STATUSES)}"})
    conversation = await get_conversation(session, project_id, conversation_id)
    conversation.status = status
    conversation.updated_at = utcnow()
    return conversation


async def list_contacts(
    session: AsyncSession, project_id: str, *, channel_id: str | None, limit: int, offset: int
) -> tuple[int, list[ChannelContact]]:
    stmt = for_project(ChannelContact, project_id)
    if channel_id:
        stmt = stmt.where(ChannelContact.channel_id == channel_id)
    order = (ChannelContact.full_name, ChannelContact.wa_id)
    return await page_of(session, stmt, order, limit=limit, offset=offset)


def contact_view(contact: ChannelContact) -> dict[str, Any]:
    return view_of(contact, CONTACT_FIELDS)


# Replying ------------------------------------------------------------------------------------


async def reply(
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    conversation_id: str,
    body: Any,
    *,
    author: str,
    force: bool = False,
) -> dict[str, Any]:
    """Send ``body`` (a Meta message without ``to``) to the conversation's customer.

    The message goes to the customer's phone number when it is known, else to their BSUID in
    Meta's ``recipient`` field (a customer who wrote by username only).
    """
    conversation = await get_conversation(session, tenant.project_id, conversation_id)
    if not isinstance(body, dict):
        raise invalid({"body": "must be a JSON object"})
    message_type = body.get("type") or "text"
    now = utcnow()
    if message_type != "template" and not window_open(conversation, now):
        raise Conflict(
            "The customer's 24-hour service window is closed: more than 24 hours have passed since the "
            "customer last wrote (Meta refuses free-form messages then, error 131047). Send an approved "
            "template instead (type 'template', see GET /v1/templates), or wait until the customer writes.",
            {"code": 131047, "last_customer_message_at": iso(conversation.last_customer_message_at)},
        )
    if author == "agent" and human_active(conversation, now) and not force:
        until = iso(conversation.human_active_until)
        raise Conflict(
            "A person is answering this customer from the WhatsApp Business app (human handover until "
            f"{until}). Wait until then so you do not talk over them, or send again with force: true.",
            {"human_active_until": until},
        )
    channel = await session.get(Channel, conversation.channel_id)
    if channel is None or channel.status != ChannelStatus.ACTIVE:
        raise Conflict("The conversation's channel is disconnected", {"channel_id": conversation.channel_id})
    message = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **{key: value for key, value in body.items() if key not in ("to", "recipient")},
        **address_of(conversation),
    }
    answer, _ = await send_message(
        ctx, session, tenant, message, conversation_of=joined_conversation, channel=channel, author=author
    )
    return answer
