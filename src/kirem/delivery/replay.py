"""Replay: put deliveries back in the queue, or deliver an event again to where it routes now."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.delivery.models import Delivery
from kirem.inbound.models import Event
from kirem.kit.enums import DeliveryStatus
from kirem.routing.decide import decide, project_routing
from kirem.usage import meter as usage


async def requeue(session: AsyncSession, deliveries: Iterable[Delivery], now: datetime | None = None) -> int:
    """Put deliveries back in the queue for a fresh series of attempts (replay)."""
    ids = [d.id for d in deliveries]
    if not ids:
        return 0
    now = now or utcnow()
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            lease_expires_at=None,
            leased_by=None,
            completed_at=None,
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
