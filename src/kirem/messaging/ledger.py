"""The send path's writes, group-committed: concurrent sends share their transactions.

A send writes twice, never across its Graph call: before it, its message log entry (``pending``)
and its share of the account's daily quota; after it, what Meta answered (``accepted``, the wamid),
its conversation, the statuses that overtook it and the month's usage counter. Each of the two
writes is handed to a :class:`~kirem.db.group_commit.GroupCommitter`, so the sends in flight
together are written in one transaction (one multi-row insert of their log entries, one quota
statement per account, one usage upsert per project and metric) instead of two commits each. On
SQLite this is the send path's single writer: one batch at a time holds the write lock.

A send refused by the quota gets its 429 and leaves no log entry, as before. A batch that fails is
written again one send at a time, so one bad send fails only its own request.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.customers import CustomerIds
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.db.group_commit import GroupCommitter, Outcomes
from kirem.messaging.models import MessageLog, PendingStatus
from kirem.messaging.statuses import advanced
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant, outbound_quota_error, reserve_outbound_quota
from kirem.usage import meter as usage

MAX_BATCH = 200
LEDGER = "messaging.sends"
"""Sends per transaction at most (a log row binds about 20 values; SQLite allows 32,766)."""

LOGS = cast("Table", MessageLog.__table__)
"""Core: no ORM bulk work per row. The batches' statements are built once, their values bound."""
INSERT_LOGS = insert(LOGS)
MARK_ACCEPTED = update(LOGS).where(LOGS.c.id == bindparam("log_id"))
OVERTAKING = (
    select(PendingStatus)
    .where(PendingStatus.message_id.in_(bindparam("wamids", expanding=True)))
    .order_by(PendingStatus.id)
)
"""The statuses that came before the sends of ``:wamids`` were accepted, oldest first."""


class ConversationOf(Protocol):
    """Which conversation a sent message joins, told by the layer above (``kirem.conversations``):
    for one customer, or for a batch of customers known by phone number alone."""

    async def __call__(self, session: AsyncSession, channel: Channel, customer: CustomerIds) -> str: ...

    async def by_phone(
        self, session: AsyncSession, wanted: dict[tuple[str, str], str], now: datetime
    ) -> dict[tuple[str, str], str]: ...


@dataclass(frozen=True)
class Opening:
    """A send about to call Graph: its log entry's values and who pays for it."""

    tenant: Tenant
    row: dict[str, Any]


@dataclass(frozen=True)
class Acceptance:
    """A send Meta accepted: which log entry, Meta's wamid, and the customer it went to."""

    project_id: str
    log_id: str
    message_type: str
    channel: Channel
    customer: CustomerIds
    message_id: str | None


def _by_phone(sent: Acceptance) -> bool:
    """A customer known by number alone: their conversation is found (or made) with the batch's."""
    ids = sent.customer
    return bool(ids.phone) and not (ids.user_id or ids.parent_user_id or ids.username)


class SendLedger:
    def __init__(self, db: Database, conversation_of: ConversationOf) -> None:
        self._db = db
        self._conversation_of = conversation_of
        self._openings = GroupCommitter(self._open, MAX_BATCH, "kirem-send-open", alone_on_failure=True)
        self._acceptances = GroupCommitter(
            self._accept, MAX_BATCH, "kirem-send-accept", alone_on_failure=True
        )

    async def open(self, tenant: Tenant, row: dict[str, Any]) -> None:
        """Store ``row`` as a pending send once the quota admits it; the quota's 429 otherwise."""
        await self._openings.submit(Opening(tenant, row))

    async def accept(self, acceptance: Acceptance) -> None:
        """Mark the send accepted, in its conversation, with its overtaking statuses and usage."""
        await self._acceptances.submit(acceptance)

    async def _open(self, batch: list[Opening]) -> Outcomes:
        outcomes: list[BaseException | None] = [None] * len(batch)
        by_account: dict[str, list[int]] = defaultdict(list)
        for index, opening in enumerate(batch):
            by_account[opening.tenant.account.id].append(index)
        now = utcnow()
        async with self._db.batch_transaction() as session:
            admitted: list[int] = []
            for account_id in sorted(by_account):  # a fixed order: PostgreSQL locks rows in it
                indexes = by_account[account_id]
                limit = batch[indexes[0]].tenant.limits.outbound_per_day
                fits = await reserve_outbound_quota(session, account_id, limit, len(indexes), now)
                admitted += indexes[:fits]
                for index in indexes[fits:]:
                    outcomes[index] = outbound_quota_error(batch[index].tenant)
            if admitted:
                stamps = {"created_at": now, "occurred_at": now, "updated_at": now}
                await session.execute(INSERT_LOGS, [stamps | batch[i].row for i in admitted])
        return outcomes

    async def _accept(self, batch: list[Acceptance]) -> Outcomes:
        now = utcnow()
        wamids = [sent.message_id for sent in batch if sent.message_id]
        amounts: dict[str, Counter[str]] = defaultdict(Counter)
        accepted: list[dict[str, Any]] = []
        async with self._db.batch_transaction() as session:
            overtaking: dict[str, list[PendingStatus]] = defaultdict(list)
            if wamids:
                for pending in (await session.execute(OVERTAKING, {"wamids": wamids})).scalars():
                    overtaking[pending.message_id].append(pending)
            by_phone = await self._conversation_of.by_phone(
                session,
                {
                    (sent.channel.id, sent.customer.phone or ""): sent.project_id
                    for sent in batch
                    if _by_phone(sent)
                },
                now,
            )
            for sent in batch:
                if _by_phone(sent):
                    conversation_id = by_phone.get((sent.channel.id, sent.customer.phone or ""))
                elif sent.customer.known:
                    conversation_id = await self._conversation_of(session, sent.channel, sent.customer)
                else:
                    conversation_id = None
                fresh = {"status": "accepted", "error_code": None, "error_message": None}
                fresh |= advanced("accepted", overtaking.get(sent.message_id or "", []))
                accepted.append(
                    {
                        "log_id": sent.log_id,
                        "message_id": sent.message_id,
                        "conversation_id": conversation_id,
                        "updated_at": now,
                        **fresh,
                    }
                )
                amounts[sent.project_id][usage.outbound(sent.message_type)] += 1
            await session.execute(MARK_ACCEPTED, accepted)
            if overtaking:
                applied = PendingStatus.message_id.in_(list(overtaking))
                await session.execute(delete(PendingStatus).where(applied))
            for project_id in sorted(amounts):
                await usage.count(session, project_id, amounts[project_id], now)
        return None

    async def aclose(self) -> None:
        await self._openings.aclose()
        await self._acceptances.aclose()


def send_ledger(ctx: AppContext, conversation_of: ConversationOf) -> SendLedger:
    """The process's send ledger (made on first use, closed with ``ctx``)."""
    ledger = ctx.parts.get(LEDGER)
    if not isinstance(ledger, SendLedger):
        ledger = SendLedger(ctx.db, conversation_of)
        ctx.parts[LEDGER] = ledger
    return ledger
