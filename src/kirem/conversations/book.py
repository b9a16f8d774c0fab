"""Finding, opening and merging conversations, for one customer or a whole batch of them.

A :class:`ConversationBook` holds the conversations of the customers it was asked about, loaded
with one query for all of them and kept in step as they are opened, taught new identifiers or
merged; a customer it never loaded is read on demand. The send path asks about one customer, the
processing pipeline about every customer of a batch of webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.conversations.models import Conversation
from kirem.customers import CustomerIds
from kirem.db.among import among_param
from kirem.db.base import new_uuid, utcnow
from kirem.db.scope import insert_all_if_absent
from kirem.messaging.models import MessageLog
from kirem.tenancy.models import Channel

Key = tuple[str, str, str]
"""``(channel id, "phone" or "user", value)``: a customer as one channel knows them."""


def _keys(channel_id: str, phone: str | None, user_id: str | None) -> list[Key]:
    keys = []
    if phone:
        keys.append((channel_id, "phone", phone))
    if user_id:
        keys.append((channel_id, "user", user_id))
    return keys


def _conversation_keys(conversation: Conversation) -> list[Key]:
    return _keys(conversation.channel_id, conversation.customer_wa_id, conversation.customer_user_id)


class ConversationBook:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._by_key: dict[Key, Conversation] = {}
        self._keys_of: dict[str, list[Key]] = {}
        self._loaded: set[Key] = set()
        self._merged_into: dict[str, str] = {}

    async def load(self, customers: Iterable[tuple[str, CustomerIds]]) -> None:
        """Read the conversations of every ``(channel id, customer)`` not read yet, in one query."""
        keys = {k for channel_id, ids in customers for k in _keys(channel_id, ids.phone, ids.user_id)}
        keys -= self._loaded
        if not keys:
            return
        phones = list({value for _, kind, value in keys if kind == "phone"})
        users = list({value for _, kind, value in keys if kind == "user"})
        stmt = _conversations_statement(self.session.get_bind().dialect.name, bool(phones), bool(users))
        params = {"channel_ids": list({k[0] for k in keys}), "phones": phones, "users": users}
        for conversation in (await self.session.execute(stmt, params)).scalars():
            self._remember(conversation)
        self._loaded |= keys

    async def find(self, channel_id: str, ids: CustomerIds) -> list[Conversation]:
        """The channel's conversations holding the phone number or the BSUID of ``ids``, oldest first."""
        await self.load([(channel_id, ids)])
        found = {
            c.id: c
            for k in _keys(channel_id, ids.phone, ids.user_id)
            if (c := self._by_key.get(k)) is not None
        }
        return sorted(found.values(), key=lambda c: (c.created_at, c.id))

    async def open_missing(self, wanted: Iterable[tuple[Channel, CustomerIds, str, datetime]]) -> None:
        """Create (``open``) the conversations of customers who have none, in one insert.

        ``wanted`` is ``(channel, customer, name, created_at)``. Creation is an insert-if-absent: a
        send and an inbound message for a new customer may race.
        """
        rows = []
        planned: set[Key] = set()
        for channel, ids, name, at in wanted:
            keys = _keys(channel.id, ids.phone, ids.user_id)
            if not keys or planned.intersection(keys) or await self.find(channel.id, ids):
                continue
            planned.update(keys)
            rows.append(
                {
                    "id": new_uuid(),
                    "project_id": channel.project_id,
                    "channel_id": channel.id,
                    "customer_wa_id": ids.phone,
                    "customer_user_id": ids.user_id,
                    "customer_parent_user_id": ids.parent_user_id,
                    "customer_username": ids.username,
                    "customer_name": name[:200],
                    "status": "open",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        if not rows:
            return
        await insert_all_if_absent(self.session, Conversation, rows)
        self._loaded -= planned
        await self.load(
            (channel_id, CustomerIds(phone=value) if kind == "phone" else CustomerIds(user_id=value))
            for channel_id, kind, value in planned
        )

    async def conversation_for(
        self, channel: Channel, ids: CustomerIds, *, name: str = "", now: datetime | None = None
    ) -> Conversation:
        """The channel's conversation with this customer, created (``open``) when there is none.

        It is found by phone number or BSUID and learns the ones it lacked; when the two name two
        conversations (the customer wrote by username, and later by number) they become one.
        """
        if not ids.known:
            raise ValueError("a conversation needs the customer's phone number or BSUID")
        found = await self.find(channel.id, ids)
        if not found:
            await self.open_missing([(channel, ids, name, now or utcnow())])
            found = await self.find(channel.id, ids)
        conversation = await self._merged(found)
        self.learn(conversation, ids)
        if name and not conversation.customer_name:
            conversation.customer_name = name[:200]
        return conversation

    async def known_conversation(self, channel: Channel, ids: CustomerIds) -> Conversation | None:
        """The customer's conversation when there is one (merged and taught ``ids``); never creates one."""
        found = await self.find(channel.id, ids) if ids.known else []
        if not found:
            return None
        conversation = await self._merged(found)
        self.learn(conversation, ids)
        return conversation

    async def customer_wrote(
        self, channel: Channel, ids: CustomerIds, name: str, at: datetime
    ) -> Conversation:
        """A customer message: opens the conversation (or reopens a resolved one), refreshes the window."""
        conversation = await self.conversation_for(channel, ids, name=name, now=at)
        if name:
            conversation.customer_name = name[:200]
        if conversation.status == "resolved":
            conversation.status = "open"
        last = conversation.last_customer_message_at
        conversation.last_customer_message_at = at if last is None or at > last else last
        conversation.updated_at = utcnow()
        return conversation

    async def owner_wrote(self, channel: Channel, ids: CustomerIds, handover_seconds: float) -> Conversation:
        """An echo from the phone app: a human is answering, so agents hold back for a while."""
        conversation = await self.conversation_for(channel, ids)
        now = utcnow()
        conversation.human_active_until = now + timedelta(seconds=handover_seconds)
        conversation.updated_at = now
        return conversation

    def learn(self, conversation: Conversation, ids: CustomerIds, *, overwrite: bool = True) -> None:
        """Identifiers the conversation did not hold (or, with ``overwrite``, newer ones Meta showed).

        Only a value that differs is set: setting an equal one would still mark the conversation
        modified, and the next flush would go over it to find nothing to write.
        """
        learned = False
        for column, value in (
            ("customer_wa_id", ids.phone),
            ("customer_user_id", ids.user_id),
            ("customer_parent_user_id", ids.parent_user_id),
            ("customer_username", ids.username),
        ):
            held = getattr(conversation, column)
            if value and value != held and (overwrite or not held):
                setattr(conversation, column, value)
                learned = True
        if learned or conversation.id not in self._keys_of:
            self._remember(conversation)

    async def _merged(self, found: list[Conversation]) -> Conversation:
        """One conversation out of the (one or two) found: the younger one's timeline joins the older."""
        keep, *others = found
        for other in others:
            await self.session.flush()
            await self.session.execute(
                update(MessageLog)
                .where(MessageLog.conversation_id == other.id)
                .values(conversation_id=keep.id)
                .execution_options(synchronize_session="fetch")
            )
            keep.last_customer_message_at = _latest(
                keep.last_customer_message_at, other.last_customer_message_at
            )
            keep.human_active_until = _latest(keep.human_active_until, other.human_active_until)
            keep.updated_at = _latest(keep.updated_at, other.updated_at) or utcnow()
            keep.customer_name = keep.customer_name or other.customer_name
            if keep.status == "resolved":
                keep.status = other.status
            learned = CustomerIds(
                phone=other.customer_wa_id,
                user_id=other.customer_user_id,
                parent_user_id=other.customer_parent_user_id,
                username=other.customer_username,
            )
            self._forget(other)
            self._merged_into[other.id] = keep.id
            await self.session.delete(other)
            await self.session.flush()  # frees the other's phone number / BSUID before ``keep`` takes them
            self.learn(keep, learned, overwrite=False)
        return keep

    def current_id(self, conversation_id: str) -> str:
        """The id a conversation has now: a conversation merged away lives on in the one it joined.

        For timeline rows written after the merge (the merge moved those already written)."""
        while conversation_id in self._merged_into:
            conversation_id = self._merged_into[conversation_id]
        return conversation_id

    def _remember(self, conversation: Conversation) -> None:
        self._forget(conversation)
        keys = _conversation_keys(conversation)
        for key in keys:
            self._by_key[key] = conversation
        self._keys_of[conversation.id] = keys

    def _forget(self, conversation: Conversation) -> None:
        for key in self._keys_of.pop(conversation.id, []):
            if self._by_key.get(key) is conversation:
                del self._by_key[key]


@cache
def _conversations_statement(dialect_name: str, by_phone: bool, by_user: bool) -> Select[Conversation]:
    """Conversations of the channels ``channel_ids`` with a number among ``phones`` (``by_phone``)
    or a BSUID among ``users`` (``by_user``)."""
    matches = []
    if by_phone:
        matches.append(among_param(dialect_name, Conversation.customer_wa_id, "phones"))
    if by_user:
        matches.append(among_param(dialect_name, Conversation.customer_user_id, "users"))
    channels = among_param(dialect_name, Conversation.channel_id, "channel_ids")
    return select(Conversation).where(channels, or_(*matches))


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max(a, b) if a is not None and b is not None else a or b
