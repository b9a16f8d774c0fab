"""The overview's figures: seven days of messages by day (today is the last), today's deliveries,
failing targets.

Every count runs over an index that starts with the project (message logs by project and time,
deliveries by project and completion time), and only today's or the week's rows are read; the week
is counted in one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from kirem.delivery.models import Delivery, DeliveryAttempt
from kirem.messaging.models import MessageLog
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import list_targets
from kirem.tenancy.models import DailyUsage

DAYS = 7


@dataclass(frozen=True)
class Today:
    sent: int
    received: int
    failed: int
    delivered: int
    delivery_failed: int

    @property
    def success_rate(self) -> float | None:
        """Share of webhook deliveries finished today that succeeded (None when none finished)."""
        finished = self.delivered + self.delivery_failed
        return self.delivered / finished if finished else None


def start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def deliveries_today(session: AsyncSession, project_id: str, now: datetime) -> dict[str, int]:
    """Webhook deliveries finished today, by status (``succeeded``, ``failed``)."""
    finished = (
        select(Delivery.status, func.count())
        .where(Delivery.project_id == project_id, Delivery.completed_at >= start_of_day(now))
        .group_by(Delivery.status)
    )
    return {status: int(n) for status, n in (await session.execute(finished)).all()}


def today(days: list[tuple[str, dict[str, int]]], deliveries: dict[str, int]) -> Today:
    """Today's figures: the last day of :func:`daily_messages` and today's finished deliveries."""
    messages = days[-1][1]
    return Today(
        sent=messages.get("sent", 0),
        received=messages.get("received", 0),
        failed=messages.get("failed", 0),
        delivered=deliveries.get("succeeded", 0),
        delivery_failed=deliveries.get("failed", 0),
    )


def _day(
    session: AsyncSession, column: ColumnElement[datetime] | InstrumentedAttribute[datetime]
) -> ColumnElement[str]:
    """A timestamp's UTC day as ``YYYY-MM-DD`` on either engine."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", column)


async def daily_messages(
    session: AsyncSession, project_id: str, now: datetime, days: int = DAYS
) -> list[tuple[str, dict[str, int]]]:
    """Sent, received and failed messages per UTC day, the last ``days`` days (oldest first)."""
    first = start_of_day(now) - timedelta(days=days - 1)
    day = _day(session, MessageLog.created_at).label("day")
    stmt = (
        select(
            day,
            func.sum(case((MessageLog.direction == "outbound", 1), else_=0)),
            func.sum(case((MessageLog.direction == "inbound", 1), else_=0)),
            func.sum(
                case(((MessageLog.direction == "outbound") & (MessageLog.status == "failed"), 1), else_=0)
            ),
        )
        .where(MessageLog.project_id == project_id, MessageLog.created_at >= first)
        .group_by(day)
    )
    counts = {
        row[0]: {"sent": int(row[1] or 0), "received": int(row[2] or 0), "failed": int(row[3] or 0)}
        for row in (await session.execute(stmt)).all()
    }
    labels = [(first + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
    return [(d, counts.get(d, {})) for d in labels]


async def failing_targets(session: AsyncSession, project_id: str) -> list[WebhookTarget]:
    """Targets failing now (their deliveries keep failing) or disabled with a reason."""
    return [
        target
        for target in await list_targets(session, project_id)
        if target.failing_since is not None or (not target.enabled and target.disabled_reason)
    ]


async def outbound_today(session: AsyncSession, account_id: str, now: datetime) -> int:
    """The account's outbound messages counted today against the plan's daily quota."""
    stmt = select(DailyUsage.outbound_messages).where(
        DailyUsage.account_id == account_id, DailyUsage.day == now.date().isoformat()
    )
    return int((await session.execute(stmt)).scalar_one_or_none() or 0)


async def daily_attempts(
    session: AsyncSession, project_id: str, now: datetime, days: int = DAYS
) -> list[tuple[str, int, int]]:
    """``(day, successful, all)`` webhook delivery attempts per UTC day, the last ``days`` days."""
    first = start_of_day(now) - timedelta(days=days - 1)
    day = _day(session, DeliveryAttempt.created_at).label("day")
    stmt = (
        select(day, func.sum(case((DeliveryAttempt.is_success.is_(True), 1), else_=0)), func.count())
        .where(DeliveryAttempt.project_id == project_id, DeliveryAttempt.created_at >= first)
        .group_by(day)
    )
    counts = {row[0]: (int(row[1] or 0), int(row[2])) for row in (await session.execute(stmt)).all()}
    labels = [(first + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(days)]
    return [(d, *counts.get(d, (0, 0))) for d in labels]
