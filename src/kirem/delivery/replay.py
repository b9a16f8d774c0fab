"""Replay: put deliveries back in the queue, or deliver an event again to where it routes now."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import and_, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.delivery.models import Delivery
from kirem.inbound.models import Event
from kirem.kit.enums import DeliveryStatus
from kirem.routing.decide import decide, project_routing
from kirem.usage import meter as usage


async def requeue(session: AsyncSession, deliveries: Iterable[Delivery], now: datetime | None = None) -> int:
    """Put deliveries back in the queue for a fresh series of attempts (replay).

    A delivery whose attempt is in flight (its lease still runs) keeps its lease and is only marked
    ``replay_requested``: the attempt's result is logged when it ends, and the fresh series starts
    then (:mod:`kirem.delivery.outcomes`). One statement decides per row on its current lease, so a
    lease taken or given up meanwhile loses neither the attempt's record nor the replay.
    """
    ids = [d.id for d in deliveries]
    if not ids:
        return 0
    now = now or utcnow()
    held = and_(Delivery.leased_by.is_not(None), Delivery.lease_expires_at >= now)
    due_now = literal(now, Delivery.next_attempt_at.type)
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.PENDING,
            attempts=case((held, Delivery.attempts), else_=0),
            next_attempt_at=case((held, Delivery.next_attempt_at), else_=due_now),
            lease_expires_at=case((held, Delivery.lease_expires_at), else_=None),
            leased_by=case((held, Delivery.leased_by), else_=None),
            completed_at=None,
            replay_requested=case((held, True), else_=False),
            updated_at=now,
        )
    )
    return len(ids)


async def replay_event(session: AsyncSession, event: Event, now: datetime | None = None) -> int:
    """Deliver an event again to every target it should reach now (enabled ones only)."""
    now = now or utcnow()
    decisions = decide(event, await project_routing(session, event.project_id))
    wanted = [d.target_id for d in decisions if d.target_enabled]
    existing = {
        d.target_id: d
        for d in (await session.execute(select(Delivery).where(Delivery.event_id == event.id))).scalars()
    }
    queued = await requeue(session, [existing[t] for t in wanted if t in existing], now)
    fresh = [t for t in wanted if t not in existing]
    for target_id in fresh:
        session.add(
            Delivery(
                project_id=event.project_id,
                event_id=event.id,
                target_id=target_id,
                event_type=event.type,
                next_attempt_at=now,
            )
        )
    await usage.count(session, event.project_id, {usage.DELIVERIES: len(fresh)}, now)
    return queued + len(fresh)
