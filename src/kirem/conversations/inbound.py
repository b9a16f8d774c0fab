"""What Meta's events do to conversations, timelines and the message log.

Customer messages open (or reopen) a conversation and refresh its 24-hour window; statuses move
outbound entries forward; coexistence echoes add the owner's phone-app messages and start a human
handover; history chunks import past messages once each, in their own order; contact syncs keep
the channel's contact list. Everything here is idempotent: Meta's redeliveries change nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.conversations.service import (
    conversation_for,
    customer_wrote,
    epoch,
    known_conversation,
    log_message,
    owner_wrote,
    seen_message,
    sync_contact,
)
from kirem.customers import CustomerIds, customer_ids, identifier
from kirem.db.base import utcnow
from kirem.inbound.normalize import NormalizedEvent
from kirem.messaging.statuses import apply_status, format_error
from kirem.phones import digits
from kirem.tenancy.models import Channel

HISTORY_STATUS = {
    "READ": "read",
    "PLAYED": "read",
    "DELIVERED": "delivered",
    "SENT": "sent",
    "ERROR": "failed",
}


async def apply_event(
    session: AsyncSession, channel: Channel, event: NormalizedEvent, handover_seconds: float
) -> None:
    """Apply one normalised event; ``messages.*`` events get their ``conversation_id`` filled in."""
    data = event.data
    if event.type == "messages.status" and data.get("message_id"):
        await _status(session, data)
        await known_conversation(session, channel, event.customer)
    elif event.type == "messages.received" and data.get("message_id"):
        await _received(session, channel, event)
    elif event.type == "messages.echo" and data.get("message_id"):
        await _echo(session, channel, event, handover_seconds)
    elif event.type == "history.sync":
        await _history(session, channel, data)
    elif event.type == "contacts.sync":
        await _contacts(session, channel, data)


async def _status(session: AsyncSession, data: dict[str, Any]) -> None:
    errors = data.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = first.get("code") if isinstance(first.get("code"), int) else None
    failed = data.get("status") == "failed"
    message = format_error(code, first.get("title") or first.get("message")) if failed else None
    await apply_status(session, str(data["message_id"]), str(data.get("status", "")), code, message)


def _message_of(data: dict[str, Any]) -> dict[str, Any]:
    """The Meta message object back from an event's ``data`` (id, type and the type's object)."""
    kind = data.get("type")
    message: dict[str, Any] = {"id": data.get("message_id"), "type": kind}
    if isinstance(kind, str) and kind in data:
        message[kind] = data[kind]
    if kind == "contacts" and isinstance(data.get("contacts"), list):
        message["contacts"] = data["contacts"]
    return message


async def _received(session: AsyncSession, channel: Channel, event: NormalizedEvent) -> None:
    data = event.data
    customer = event.customer
    contact = member if isinstance(member := data.get("contact"), dict) else {}
    profile = member if isinstance(member := contact.get("profile"), dict) else {}
    name = str(profile.get("name") or "")
    at = epoch(data.get("timestamp"), utcnow())
    conversation = await customer_wrote(session, channel, customer, name, at) if customer.known else None
    if conversation is not None:
        data["conversation_id"] = conversation.id
    if await seen_message(session, channel.project_id, str(data["message_id"])):
        return
    log = log_message(
        session,
        channel,
        conversation,
        _message_of(data),
        direction="inbound",
        author="customer",
        status="received",
        occurred_at=at,
        customer=customer,
    )
    log.type = (event.message_type or "unknown")[:32]


async def _echo(
    session: AsyncSession, channel: Channel, event: NormalizedEvent, handover_seconds: float
) -> None:
    data = event.data
    customer = event.customer
    if not customer.known:
        return
    conversation = await owner_wrote(session, channel, customer, handover_seconds)
    data["conversation_id"] = conversation.id
    if await seen_message(session, channel.project_id, str(data["message_id"])):
        return
    log_message(
        session,
        channel,
        conversation,
        _message_of(data),
        direction="outbound",
        author="business_app",
        status="sent",
        occurred_at=epoch(data.get("timestamp"), utcnow()),
        customer=customer,
    )


async def _history(session: AsyncSession, channel: Channel, value: dict[str, Any]) -> None:
    """Import every message of every thread of every chunk in the value, skipping ones already known."""
    business = digits(channel.display_phone_number)
    for chunk in value.get("history") or []:
        if not isinstance(chunk, dict):
            continue
        for thread in chunk.get("threads") or []:
            customer = _thread_customer(thread)
            if not customer.known:
                continue
            messages = [m for m in thread.get("messages") or [] if isinstance(m, dict) and m.get("id")]
            messages.sort(key=lambda m: epoch(m.get("timestamp"), utcnow()))
            for message in messages:
                await _import(session, channel, customer, business, message)


def _thread_customer(thread: Any) -> CustomerIds:
    """A history thread's customer: its ``id`` (a phone number or a BSUID) and any ``user_id`` it names."""
    if not isinstance(thread, dict):
        return CustomerIds()
    named = identifier(str(thread.get("id") or ""))
    context = member if isinstance(member := thread.get("context"), dict) else {}
    return customer_ids(
        phone=named.phone or context.get("wa_id") or thread.get("wa_id"),
        user_id=named.user_id or thread.get("user_id") or context.get("user_id"),
        parent_user_id=thread.get("parent_user_id") or context.get("parent_user_id"),
        username=thread.get("username") or context.get("username"),
    )


def _from_customer(message: dict[str, Any], customer: CustomerIds, business: str) -> bool:
    """Whether a history message was the customer's (by number or by BSUID), not the business's."""
    sender = customer_ids(phone=message.get("from"), user_id=message.get("from_user_id"))
    if sender.phone and sender.phone == business:
        return False
    return bool(
        (sender.phone and sender.phone == customer.phone)
        or (sender.user_id and sender.user_id == customer.user_id)
    )


async def _import(
    session: AsyncSession, channel: Channel, customer: CustomerIds, business: str, message: dict[str, Any]
) -> None:
    if await seen_message(session, channel.project_id, str(message["id"])):
        return
    at = epoch(message.get("timestamp"), utcnow())
    from_customer = _from_customer(message, customer, business)
    if from_customer:
        conversation = await customer_wrote(session, channel, customer, "", at)
    else:
        conversation = await conversation_for(session, channel, customer)
    context = member if isinstance(member := message.get("history_context"), dict) else {}
    status = HISTORY_STATUS.get(str(context.get("status", "")).upper(), "delivered")
    log_message(
        session,
        channel,
        conversation,
        message,
        direction="inbound" if from_customer else "outbound",
        author="customer" if from_customer else "business_app",
        status="received" if from_customer else status,
        occurred_at=at,
        customer=customer,
    )
    await session.flush()


async def _contacts(session: AsyncSession, channel: Channel, value: dict[str, Any]) -> None:
    for item in value.get("state_sync") or []:
        if not isinstance(item, dict) or item.get("type") != "contact":
            continue
        contact = member if isinstance(member := item.get("contact"), dict) else {}
        customer = customer_ids(
            phone=contact.get("phone_number") or contact.get("wa_id"),
            user_id=contact.get("user_id"),
            username=contact.get("username"),
        )
        if customer.known:
            await sync_contact(
                session,
                channel,
                customer,
                str(item.get("action") or "add"),
                str(contact.get("full_name") or ""),
                str(contact.get("first_name") or ""),
            )
