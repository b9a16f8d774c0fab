"""Heartbeats of the processes doing background work, and the queue lag ``/readyz`` reports.

Every process that runs the runtime (``kirem serve`` with ``KIREM_WORKER`` on, or ``kirem
worker``) writes its row every ``KIREM_HEARTBEAT_SECONDS``, and only while its background loops are
all running; a process that stops deletes its row. A row not refreshed for three intervals is a
stale worker (crashed, frozen, or cut off from the database).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, String, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, UTCDateTime
from kirem.db.scope import changed_rows
from kirem.delivery.models import Delivery
from kirem.inbound.models import RawEvent

STALE_INTERVALS = 3
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(Base):
    """A process running background work (``kirem serve`` with the worker, or ``kirem worker``)."""

    __tablename__ = "worker_heartbeats"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


async def beat(session: AsyncSession, worker_id: str, started_at: datetime, now: datetime) -> None:
    """Record that this process is alive (and forget processes gone for a day)."""
    updated = await session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id).values(seen_at=now)
    )
    if not changed_rows(updated):
        session.add(
            WorkerHeartbeat(
                id=worker_id,
                hostname=socket.gethostname()[:255],
                pid=os.getpid(),
                started_at=started_at,
                seen_at=now,
            )
        )
    await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.seen_at < now - FORGET_AFTER))


async def forget(session: AsyncSession, worker_id: str) -> None:
    await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.id == worker_id))


@dataclass(frozen=True)
class Backlog:
    heartbeat_age_seconds: float | None
    """Age of the freshest heartbeat of any process; ``None`` when none has been recorded."""
    live_workers: int
    oldest_delivery_seconds: float
    """How long the oldest delivery that is due has been waiting (0 when none is)."""
    oldest_inbound_seconds: float
    """How long the oldest stored Meta webhook has been waiting to be processed (0 when none is)."""

    def view(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "workers": {
                "live": self.live_workers,
                "last_heartbeat_age_seconds": rounded(self.heartbeat_age_seconds),
            },
            "queues": {
                "oldest_pending_delivery_seconds": rounded(self.oldest_delivery_seconds),
                "oldest_pending_inbound_seconds": rounded(self.oldest_inbound_seconds),
            },
        }


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


async def backlog(session: AsyncSession, now: datetime, heartbeat_seconds: float) -> Backlog:
    stale_before = now - timedelta(seconds=STALE_INTERVALS * heartbeat_seconds)
    newest, live = (
        await session.execute(
            select(
                func.max(WorkerHeartbeat.seen_at),
                func.count().filter(WorkerHeartbeat.seen_at >= stale_before),
            )
        )
    ).one()
    oldest_due = await session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "pending", Delivery.next_attempt_at <= now
        )
    )
    oldest_raw = await session.scalar(
        select(func.min(RawEvent.received_at)).where(RawEvent.status == "pending")
    )
    return Backlog(
        heartbeat_age_seconds=_age(now, newest) if newest is not None else None,
        live_workers=live or 0,
        oldest_delivery_seconds=_age(now, oldest_due),
        oldest_inbound_seconds=_age(now, oldest_raw),
    )


async def host_report(session: AsyncSession, now: datetime, heartbeat_seconds: float) -> dict[str, Any]:
    """The backlog, and whether a process on this host beats (a worker container's health)."""
    stale_before = now - timedelta(seconds=STALE_INTERVALS * heartbeat_seconds)
    here = await session.scalar(
        select(func.count()).where(
            WorkerHeartbeat.hostname == socket.gethostname()[:255], WorkerHeartbeat.seen_at >= stale_before
        )
    )
    report = (await backlog(session, now, heartbeat_seconds)).view()
    return {**report, "this_host": {"hostname": socket.gethostname(), "live": here or 0}}
