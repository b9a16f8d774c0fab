"""Delivery's entry point for new events: routing's decisions become queue rows.

One ``deliveries`` row per (event, target): ``pending`` for an enabled target, ``skipped`` for a
disabled one (replayable later). Rows are written with ``INSERT … ON CONFLICT DO NOTHING`` as one
``executemany`` (sent as multi-row inserts), so an event routed twice gets its deliveries once;
each created pending row counts as a delivery for the project's usage.

The processing pipeline may hand fresh rows straight to this process's worker (:class:`Handoff`):
they are written already leased to it, as many per target as it has room for, and it gets them
once the transaction is committed — no claim, and the row stays the durable truth (a worker that
dies leaves them to be claimed again when the lease ends). The pipeline hands each row over with its
event's bodies, which it has just written, so the worker signs it without reading the event back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import new_id, utcnow
from kirem.db.scope import upsert
from kirem.delivery.models import Delivery
from kirem.routing.decide import RoutableEvent, decide, project_routing
from kirem.routing.matcher import Decision
from kirem.usage import meter as usage


class QueuedEvent(RoutableEvent, Protocol):
    @property
    def id(self) -> str: ...

    @property
    def project_id(self) -> str: ...


@dataclass(frozen=True)
class Lease:
    """New pending rows written leased to ``holder`` until ``until``, at most ``room(target)`` per target."""

    holder: str
    until: datetime
    room: Callable[[str], int]


@dataclass(frozen=True)
class Fresh:
    """A pending row written leased to the handoff's holder, with what its request is made of:
    the event's ``(kirem body, meta body)`` when the writer has them, else None (the worker reads them)."""

    delivery_id: str
    target_id: str
    event_id: str
    event_type: str
    bodies: tuple[bytes, bytes] | None


@dataclass(frozen=True)
class Queued:
    """What :func:`enqueue` wrote for the worker: the rows handed over, and how many pending rows
    were left for a claim (with none, no worker needs waking)."""

    handed: list[Fresh]
    unleased: int


class Handoff(Protocol):
    """A worker in this process that takes fresh rows without claiming them."""

    def handoff_lease(self, now: datetime) -> Lease:
        """The lease to write fresh rows with, sized to the worker's room now."""
        ...

    async def adopt(self, lease: Lease, leased: list[Fresh]) -> None:
        """Take the rows written leased to it, once they are committed."""
        ...


async def enqueue(
    session: AsyncSession,
    routed: Sequence[tuple[QueuedEvent, list[Decision]]],
    now: datetime,
    lease: Lease | None = None,
    bodies: Mapping[str, tuple[bytes, bytes]] | None = None,
) -> Queued:
    """Write the deliveries of every (event, decisions) pair; return the pending rows created leased
    to ``lease``'s holder (none without a ``lease``), with their event's ``bodies`` (by event id),
    and how many pending rows were created without a lease."""
    left: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    events = {event.id: event for event, _ in routed}
    for event, decisions in routed:
        for decision in decisions:
            holder, until = None, None
            if lease is not None and decision.target_enabled:
                room = left.setdefault(decision.target_id, lease.room(decision.target_id))
                if room > 0:
                    left[decision.target_id] = room - 1
                    holder, until = lease.holder, lease.until
            rows.append(
                {
                    "id": new_id("dlv"),
                    "project_id": event.project_id,
                    "event_id": event.id,
                    "target_id": decision.target_id,
                    "event_type": event.type,
                    "status": "pending" if decision.target_enabled else "skipped",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "leased_by": holder,
                    "lease_expires_at": until,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    created: Counter[str] = Counter()
    handed: list[Fresh] = []
    unleased = 0
    if rows:
        table = cast("Table", Delivery.__table__)
        c = table.c
        stmt = upsert(session, table).on_conflict_do_nothing()
        returned = stmt.returning(c.id, c.project_id, c.target_id, c.event_id, c.status, c.leased_by)
        written = await session.execute(returned, rows)
        for delivery_id, project_id, target_id, event_id, status, holder in written:
            if status == "pending":
                created[project_id] += 1
                if holder is None:
                    unleased += 1
                    continue
                found = (bodies or {}).get(event_id)
                handed.append(Fresh(delivery_id, target_id, event_id, events[event_id].type, found))
    for project_id in sorted(created):
        await usage.count(session, project_id, {usage.DELIVERIES: created[project_id]}, now)
    return Queued(handed, unleased)


async def fan_out(session: AsyncSession, event: QueuedEvent, now: datetime | None = None) -> int:
    """Route one event as this transaction sees the project's routing and queue its deliveries.

    For events made outside the pipeline (SLA notices, onboarding, a disabled target): their own
    transaction may just have changed the targets, so the routing is read, not cached.
    Returns how many targets were selected.
    """
    decisions = decide(event, await project_routing(session, event.project_id))
    await enqueue(session, [(event, decisions)], now or utcnow())
    return len(decisions)
