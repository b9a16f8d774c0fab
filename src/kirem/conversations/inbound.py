"""What Meta's events do to conversations, timelines and the message log.

Customer messages open (or reopen) a conversation and refresh its 24-hour window; statuses move
outbound entries forward; coexistence echoes add the owner's phone-app messages and start a human
handover; history chunks import past messages once each, in their own order; contact syncs keep
the channel's contact list. Everything here is idempotent: Meta's redeliveries change nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.conversations.book import ConversationBook
from kirem.conversations.service import MESSAGE_ID_LENGTH, epoch, message_row, sync_contact
from kirem.customers import CustomerIds, customer_ids, identifier
from kirem.db.among import among
from kirem.db.base import utcnow
from kirem.inbound.normalize import NormalizedEvent
from kirem.kit.enums import EventType
from kirem.messaging.models import MessageLog
from kirem.messaging.statuses import StatusBook, format_error
from kirem.phones import digits
from kirem.tenancy.models import Channel

MESSAGES_RECEIVED, MESSAGES_STATUS, MESSAGES_ECHO = (
    EventType.MESSAGES_RECEIVED,
    EventType.MESSAGES_STATUS,
    EventType.MESSAGES_ECHO,
)
HISTORY_SYNC, CONTACTS_SYNC = EventType.HISTORY_SYNC, EventType.CONTACTS_SYNC
_LOGS = cast("Table", MessageLog.__table__)
HISTORY_STATUS = {
    "READ": "read",
    "PLAYED": "read",
    "DELIVERED": "delivered",
    "SENT": "sent",
    "ERROR": "failed",
}


async def apply_events(
    session: AsyncSession, items: Sequence[tuple[Channel, NormalizedEvent]], handover_seconds: float
) -> None:
    """Apply a batch of normalised events in order; ``messages.*`` events get their ``conversation_id``.

    What the batch needs is read up front, one query per kind: the conversations of its customers
    (those who have none are opened with one insert), the message ids already logged, and the
    outbound entries its statuses move.
    """
    batch = await _Batch.load(session, items)
    for channel, event in items:
        await batch.apply(channel, event, handover_seconds)
    await batch.write()


def _has_message_id(event: NormalizedEvent) -> bool:
    return bool(event.data.get("message_id"))


class _Batch:
    def __init__(
        self, session: AsyncSession, book: ConversationBook, seen: set[tuple[str, str]], statuses: StatusBook
    ) -> None:
        self.session = session
        self.book = book
        self.seen = seen
        self.statuses = statuses
        self.entries: list[dict[str, Any]] = []
        """Message log rows to insert at the end of the batch (one statement), in timeline order."""
        self._stamp = utcnow()

    @classmethod
    async def load(cls, session: AsyncSession, items: Sequence[tuple[Channel, NormalizedEvent]]) -> _Batch:
        messages = [(c, e) for c, e in items if _has_message_id(e)]
        book = ConversationBook(session)
        await book.load(
            (c.id, e.customer)
            for c, e in messages
            if e.type in (MESSAGES_RECEIVED, MESSAGES_ECHO, MESSAGES_STATUS) and e.customer.known
        )
        await book.open_missing(
            (c, e.customer, _contact_name(e.data), epoch(e.data.get("timestamp"), utcnow()))
            for c, e in messages
            if e.type == MESSAGES_RECEIVED and e.customer.known
        )
        await book.open_missing(
            (c, e.customer, "", utcnow()) for c, e in messages if e.type == MESSAGES_ECHO and e.customer.known
        )
        logged = [(c.project_id, str(e.data["message_id"])) for c, e in messages if e.type != MESSAGES_STATUS]
        logged += [
            (c.project_id, str(m["id"])) for c, e in items if e.type == HISTORY_SYNC for m in _history(e.data)
        ]
        seen = await _seen_messages(session, logged)
        statuses = await StatusBook.load(
            session, (str(e.data["message_id"]) for _, e in messages if e.type == MESSAGES_STATUS)
        )
        return cls(session, book, seen, statuses)

    async def apply(self, channel: Channel, event: NormalizedEvent, handover_seconds: float) -> None:
        data = event.data
        if event.type == MESSAGES_STATUS and data.get("message_id"):
            self._status(data)
            await self.book.known_conversation(channel, event.customer)
        elif event.type == MESSAGES_RECEIVED and data.get("message_id"):
            await self._received(channel, event)
        elif event.type == MESSAGES_ECHO and data.get("message_id"):
            await self._echo(channel, event, handover_seconds)
        elif event.type == HISTORY_SYNC:
            await self._history(channel, data)
        elif event.type == CONTACTS_SYNC:
            await _contacts(self.session, channel, data)

    def _first_time(self, project_id: str, message_id: str) -> bool:
        """Whether the message is not in the log yet (and, from now on, counted as logged)."""
        key = (project_id, message_id[:MESSAGE_ID_LENGTH])
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def _log(
        self, channel: Channel, conversation: Any, message: dict[str, Any], **fields: Any
    ) -> dict[str, Any]:
        entry = message_row(
            channel,
            conversation.id if conversation else None,
            message,
            created_at=self._next_stamp(),
            **fields,
        )
        self.entries.append(entry)
        self.statuses.add(entry)
        return entry

    def _next_stamp(self) -> datetime:
        """``created_at`` of the next entry: the time, but after the previous entry's, so that entries
        with the same ``occurred_at`` (Meta counts in seconds) keep the order they were written in."""
        self._stamp = max(utcnow(), self._stamp + timedelta(microseconds=1))
        return self._stamp

    async def write(self) -> None:
        """Insert the batch's new entries, then store what statuses did to entries already there."""
        if self.entries:
            for entry in self.entries:
                if entry["conversation_id"] is not None:
                    entry["conversation_id"] = self.book.current_id(entry["conversation_id"])
            await self.session.execute(insert(_LOGS), self.entries)
            self.entries = []
        await self.statuses.write()

    def _status(self, data: dict[str, Any]) -> None:
        errors = data.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = first.get("code") if isinstance(first.get("code"), int) else None
        failed = data.get("status") == "failed"
        message = format_error(code, first.get("title") or first.get("message")) if failed else None
        self.statuses.apply(str(data["message_id"]), str(data.get("status", "")), code, message)

    async def _received(self, channel: Channel, event: NormalizedEvent) -> None:
        data = event.data
        customer = event.customer
        at = epoch(data.get("timestamp"), utcnow())
        conversation = (
            await self.book.customer_wrote(channel, customer, _contact_name(data), at)
            if customer.known
            else None
        )
        if conversation is not None:
            data["conversation_id"] = conversation.id
        if not self._first_time(channel.project_id, str(data["message_id"])):
            return
        entry = self._log(
            channel,
            conversation,
            _message_of(data),
            direction="inbound",
            author="customer",
            status="received",
            occurred_at=at,
            customer=customer,
        )
        entry["type"] = (event.message_type or "unknown")[:32]

    async def _echo(self, channel: Channel, event: NormalizedEvent, handover_seconds: float) -> None:
        data = event.data
        customer = event.customer
        if not customer.known:
            return
        conversation = await self.book.owner_wrote(channel, customer, handover_seconds)
        data["conversation_id"] = conversation.id
        if not self._first_time(channel.project_id, str(data["message_id"])):
            return
        self._log(
            channel,
            conversation,
            _message_of(data),
            direction="outbound",
            author="business_app",
            status="sent",
            occurred_at=epoch(data.get("timestamp"), utcnow()),
            customer=customer,
        )

    async def _history(self, channel: Channel, value: dict[str, Any]) -> None:
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
                    await self._import(channel, customer, business, message)

    async def _import(
        self, channel: Channel, customer: CustomerIds, business: str, message: dict[str, Any]
    ) -> None:
        if not self._first_time(channel.project_id, str(message["id"])):
            return
        at = epoch(message.get("timestamp"), utcnow())
        from_customer = _from_customer(message, customer, business)
        if from_customer:
            conversation = await self.book.customer_wrote(channel, customer, "", at)
        else:
            conversation = await self.book.conversation_for(channel, customer)
        context = member if isinstance(member := message.get("history_context"), dict) else {}
        status = HISTORY_STATUS.get(str(context.get("status", "")).upper(), "delivered")
        self._log(
            channel,
            conversation,
            message,
            direction="inbound" if from_customer else "outbound",
            author="customer" if from_customer else "business_app",
            status="received" if from_customer else status,
            occurred_at=at,
            customer=customer,
        )


async def _seen_messages(session: AsyncSession, logged: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which ``(project, message id)`` of the batch the message log holds already (one query)."""
    wanted = {(project_id, message_id[:MESSAGE_ID_LENGTH]) for project_id, message_id in logged}
    if not wanted:
        return set()
    stmt = select(MessageLog.project_id, MessageLog.message_id).where(
        among(session, MessageLog.project_id, {p for p, _ in wanted}),
        among(session, MessageLog.message_id, {m for _, m in wanted}),
    )
    return {(p, str(m)) for p, m in await session.execute(stmt)} & wanted


def _contact_name(data: dict[str, Any]) -> str:
    contact = member if isinstance(member := data.get("contact"), dict) else {}
    profile = member if isinstance(member := contact.get("profile"), dict) else {}
    return str(profile.get("name") or "")


def _history(value: dict[str, Any]) -> list[dict[str, Any]]:
    """Every message (with an id) of every thread of every chunk of a history value."""
    found = []
    for chunk in value.get("history") or []:
        for thread in (chunk.get("threads") or []) if isinstance(chunk, dict) else []:
            messages = thread.get("messages") if isinstance(thread, dict) else None
            found += [m for m in messages or [] if isinstance(m, dict) and m.get("id")]
    return found


def _message_of(data: dict[str, Any]) -> dict[str, Any]:
    """The Meta message object back from an event's ``data`` (id, type and the type's object)."""
    kind = data.get("type")
    message: dict[str, Any] = {"id": data.get("message_id"), "type": kind}
    if isinstance(kind, str) and kind in data:
        message[kind] = data[kind]
    if kind == "contacts" and isinstance(data.get("contacts"), list):
        message["contacts"] = data["contacts"]
    return message


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
