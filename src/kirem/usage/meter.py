"""Counting billable things, in the transaction of the thing counted.

Each billable thing has exactly one place that counts it, so a retry or replay is never a new one:

- an outbound message when Meta accepts it (``outbound:<type>``), in the commit that marks its log
  entry accepted;
- its pricing category (``category:<marketing|utility|authentication|service|…>``) from Meta's
  ``sent`` status, recorded once per message by the event's dedup key;
- an inbound message (``inbound``) when its ``messages.received`` event is first applied;
- a webhook delivery (``deliveries``) when an (event, target) delivery row is created for an
  enabled target — a retry or a replay re-uses the row;
- every HTTP attempt of a delivery (``attempts``), retries and replays included, with the attempt's
  log row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Insert, Table
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.db.scope import dialect_insert
from kirem.usage.models import UsageCounter

INBOUND = "inbound"
DELIVERIES = "deliveries"
ATTEMPTS = "attempts"
OUTBOUND_PREFIX = "outbound:"
CATEGORY_PREFIX = "category:"
METRIC_MAX_LENGTH = 64


def month_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m")


def outbound(message_type: str) -> str:
    return f"{OUTBOUND_PREFIX}{message_type}"[:METRIC_MAX_LENGTH]


def category(name: str) -> str:
    return f"{CATEGORY_PREFIX}{name.lower()}"[:METRIC_MAX_LENGTH]


async def count(
    session: AsyncSession,
    project_id: str,
    amounts: Mapping[str, int],
    now: datetime | None = None,
) -> None:
    """Add ``amounts`` to the project's counters for the month of ``now`` (the caller commits).

    One ``INSERT … ON CONFLICT DO UPDATE SET count = count + excluded.count`` per metric, in a fixed
    order so concurrent transactions on PostgreSQL lock the rows in the same order.
    """
    month = month_of(now or utcnow())
    add = _added_to_counter(session.get_bind().dialect.name)
    for metric in sorted(m for m, n in amounts.items() if n):
        values = {"project_id": project_id, "month": month, "metric": metric, "count": amounts[metric]}
        await session.execute(add, values)


@cache
def _added_to_counter(dialect_name: str) -> Insert:
    """Add ``:count`` to the counter of ``(:project_id, :month, :metric)``, made at 0 if absent;
    built once per dialect."""
    table = cast("Table", UsageCounter.__table__)
    stmt = dialect_insert(dialect_name, table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.project_id, table.c.month, table.c.metric],
        set_={"count": table.c.count + stmt.excluded.count},
    )


def event_amounts(event_type: str, data: Mapping[str, Any]) -> Counter[str]:
    """What a newly applied event adds: an inbound message, or a sent message's pricing category."""
    amounts: Counter[str] = Counter()
    if event_type == "messages.received":
        amounts[INBOUND] += 1
    elif event_type == "messages.status" and data.get("status") == "sent":
        pricing = data.get("pricing")
        name = pricing.get("category") if isinstance(pricing, dict) else None
        if isinstance(name, str) and name:
            amounts[category(name)] += 1
    return amounts
