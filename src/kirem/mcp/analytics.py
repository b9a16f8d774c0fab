"""``view_analytics``: message counts of a period from the message log, in total and per day (UTC)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.kit.params import iso, parse_time
from kirem.mcp.results import ToolInputError
from kirem.messaging.models import MessageLog

DEFAULT_DAYS = 7
_RELATIVE = re.compile(r"^\s*(\d{1,5})\s*([dh])\s*$", re.IGNORECASE | re.ASCII)
_REACHED = {
    # an outbound message whose latest status is the key has also been counted under these
    "sent": ("sent",),
    "delivered": ("sent", "delivered"),
    "read": ("sent", "delivered", "read"),
}


def _moment(name: str, value: str | None, now: datetime) -> datetime | None:
    if value is None or not value.strip():
        return None
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        return now - (timedelta(days=amount) if unit == "d" else timedelta(hours=amount))
    errors: dict[str, str] = {}
    moment = parse_time(name, value.strip(), errors)
    if errors:
        raise ToolInputError(
            f"{name} must be an ISO 8601 date or date-time (2026-06-26 or 2026-06-26T00:20:00Z), "
            f"Unix seconds, or a relative period such as 7d or 24h; got {value!r}"
        )
    return moment


def period(since: str | None, until: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or utcnow()
    end = _moment("until", until, now) or now
    start = _moment("since", since, now) or end - timedelta(days=DEFAULT_DAYS)
    if start > end:
        raise ToolInputError("since must not be after until")
    return start, end


def _day(session: AsyncSession) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", MessageLog.created_at), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", MessageLog.created_at)  # SQLite keeps naive UTC


def _empty() -> dict[str, int]:
    return {"outbound": 0, "sent": 0, "delivered": 0, "read": 0, "failed": 0, "pending": 0, "inbound": 0}


def _count(bucket: dict[str, int], direction: str, status: str, count: int) -> None:
    if direction == "inbound":
        bucket["inbound"] += count
        return
    bucket["outbound"] += count
    if status == "failed":
        bucket["failed"] += count
    elif status in _REACHED:
        for reached in _REACHED[status]:
            bucket[reached] += count
    else:
        bucket["pending"] += count


async def message_summary(
    session: AsyncSession, project_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    day = _day(session).label("day")
    stmt = (
        select(day, MessageLog.direction, MessageLog.status, func.count())
        .where(
            MessageLog.project_id == project_id,
            MessageLog.created_at >= start,
            MessageLog.created_at <= end,
        )
        .group_by(day, MessageLog.direction, MessageLog.status)
    )
    totals = _empty()
    by_status: dict[str, int] = defaultdict(int)
    daily: dict[str, dict[str, int]] = defaultdict(_empty)
    for date, direction, status, count in (await session.execute(stmt)).all():
        _count(totals, direction, status, count)
        _count(daily[str(date)], direction, status, count)
        if direction == "outbound":
            by_status[status] += count
    inbound = totals.pop("inbound")
    outbound = {"total": totals.pop("outbound"), **totals}
    return {
        "period": {"since": iso(start), "until": iso(end)},
        "outbound": outbound,
        "outbound_by_current_status": dict(sorted(by_status.items())),
        "inbound": inbound,
        "daily": [{"date": date, **daily[date]} for date in sorted(daily)],
        "notes": (
            "sent, delivered and read count every outbound message that reached that stage (a read "
            "message is also delivered and sent); pending = not yet confirmed sent by Meta; dates in UTC"
        ),
    }
