"""Delivery's entry point for new events: routing's decisions become queue rows.

One ``deliveries`` row per (event, target): ``pending`` for an enabled target, ``skipped`` for a
disabled one (replayable later). Rows are written with ``INSERT … ON CONFLICT DO NOTHING`` as one
``executemany`` (sent as multi-row inserts), so an event routed twice gets its deliveries once;
each created pending row counts as a delivery for the project's usage.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
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


async def enqueue(
    session: AsyncSession, routed: Sequence[tuple[QueuedEvent, list[Decision]]], now: datetime
) -> int:
    """Write the deliveries of every (event, decisions) pair; return how many pending ones were created."""
    rows: list[dict[str, Any]] = [
        {
            "id": new_id("dlv"),
            "project_id": event.project_id,
            "event_id": event.id,
            "target_id": decision.target_id,
            "event_type": event.type,
            "status": "pending" if decision.target_enabled else "skipped",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for event, decisions in routed
        for decision in decisions
    ]
    created: Counter[str] = Counter()
    if rows:
        table = cast("Table", Delivery.__table__)
        stmt = upsert(session, table).on_conflict_do_nothing().returning(table.c.project_id, table.c.status)
        result = await session.execute(stmt, rows)
        created.update(project_id for project_id, status in result if status == "pending")
    for project_id in sorted(created):
        await usage.count(session, project_id, {usage.DELIVERIES: created[project_id]}, now)
    return sum(created.values())


async def fan_out(session: AsyncSession, event: QueuedEvent, now: datetime | None = None) -> int:
    """Route one event as this transaction sees the project's routing and queue its deliveries.

    For events made outside the pipeline (SLA notices, onboarding, a disabled target): their own
    transaction may just have changed the targets, so the routing is read, not cached.
    Returns how many targets were selected.
    """
    decisions = decide(event, await project_routing(session, event.project_id))
    await enqueue(session, [(event, decisions)], now or utcnow())
    return len(decisions)
