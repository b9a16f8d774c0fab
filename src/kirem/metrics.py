"""The metrics of ``/metrics``: the process's instruments plus the gauges read from the database.

Queue depth, heartbeats and the SLA gauges are read from the tables, so every process shows the same.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.delivery.models import Delivery
from kirem.enterprise.models import SlaPolicy
from kirem.heartbeat import backlog
from kirem.inbound.models import RawEvent
from kirem.instruments import CONTENT_TYPE, Instruments
from kirem.kit.enums import DeliveryStatus, RawEventStatus

__all__ = ["CONTENT_TYPE", "Metrics"]


class Metrics(Instruments):
    async def refresh_queue(self, session: AsyncSession, now: datetime) -> None:
        """Queue depth and age, read from the tables that are the queues."""
        due = select(func.count(), func.min(Delivery.next_attempt_at)).where(
            Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now
        )
        depth, oldest = (await session.execute(due)).one()
        self.queue_depth.set(depth or 0)
        self.queue_age.set((now - oldest).total_seconds() if oldest else 0)
        backlog = await session.scalar(
            select(func.count()).select_from(RawEvent).where(RawEvent.status == RawEventStatus.PENDING)
        )
        self.raw_backlog.set(backlog or 0)

    async def refresh_enterprise(
        self, session: AsyncSession, now: datetime, heartbeat_seconds: float
    ) -> None:
        """Worker heartbeats, inbound lag and the SLA policies' last evaluations."""
        report = await backlog(session, now, heartbeat_seconds)
        age = report.heartbeat_age_seconds
        self.heartbeat_age.set(-1 if age is None else age)
        self.live_workers.set(report.live_workers)
        self.inbound_age.set(report.oldest_inbound_seconds)
        gauges = (self.sla_breached, self.sla_success, self.sla_latency, self.sla_deliveries)
        for gauge in gauges:
            gauge.clear()
        for policy in (await session.execute(select(SlaPolicy))).scalars():
            project = policy.project_id
            self.sla_breached.labels(project).set(1 if policy.state == "breached" else 0)
            if policy.success_rate is not None:
                self.sla_success.labels(project).set(policy.success_rate)
            if policy.p95_latency_ms is not None:
                self.sla_latency.labels(project).set(policy.p95_latency_ms / 1000)
            if policy.deliveries is not None:
                self.sla_deliveries.labels(project).set(policy.deliveries)
