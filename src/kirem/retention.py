"""Log retention by plan: message logs, events (with their deliveries and attempts) and raw webhooks
older than the account's ``retention_days`` are deleted; so are expired idempotency records. A
downgrade shortens retention only forward: what was stored before it keeps the longer retention.

Conversations stay (they are the inbox); their timeline keeps only what retention keeps. Raw webhooks
are kept as long as the longest retention of any plan, since one body may concern several projects.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.db.scope import changed_rows
from kirem.delivery.models import Delivery, DeliveryAttempt
from kirem.inbound.models import Event, RawEvent
from kirem.messaging.models import IdempotencyRecord, MessageLog
from kirem.tenancy.models import Account, Project
from kirem.tenancy.plans import PLANS
from kirem.tenancy.service import account_limits

log = logging.getLogger("kirem.retention")


def expired(
    account: Account, created_at: InstrumentedAttribute[datetime], now: datetime
) -> ColumnElement[bool]:
    """Rows past the account's retention; after a downgrade, rows stored before it keep the longer one."""
    cutoff = now - timedelta(days=account_limits(account).retention_days)
    owed, since = account.retention_days_before, account.retention_changed_at
    if owed is None or since is None:
        return created_at < cutoff
    return and_(created_at < cutoff, or_(created_at >= since, created_at < now - timedelta(days=owed)))


async def purge_expired(ctx: AppContext, now: datetime | None = None) -> dict[str, int]:
    """Delete what every project's plan no longer keeps; return the number of rows per table."""
    now = now or utcnow()
    removed = {
        "message_logs": 0,
        "events": 0,
        "delivery_attempts": 0,
        "raw_events": 0,
        "idempotency_records": 0,
    }
    async with ctx.db.session() as session:
        accounts = list((await session.execute(select(Account))).scalars())
    for account in accounts:
        projects = select(Project.id).where(Project.account_id == account.id).scalar_subquery()
        async with ctx.db.transaction() as session:
            for model, key in ((MessageLog, "message_logs"), (DeliveryAttempt, "delivery_attempts")):
                result = await session.execute(
                    delete(model).where(
                        model.project_id.in_(projects), expired(account, model.created_at, now)
                    )
                )
                removed[key] += changed_rows(result)
            old_events = select(Event.id).where(
                Event.project_id.in_(projects), expired(account, Event.created_at, now)
            )
            await session.execute(delete(Delivery).where(Delivery.event_id.in_(old_events)))
            result = await session.execute(
                delete(Event).where(Event.project_id.in_(projects), expired(account, Event.created_at, now))
            )
            removed["events"] += changed_rows(result)
    longest = max(limits.retention_days for limits in PLANS.values())
    async with ctx.db.transaction() as session:
        result = await session.execute(
            delete(RawEvent).where(
                RawEvent.status != "pending", RawEvent.received_at < now - timedelta(days=longest)
            )
        )
        removed["raw_events"] = changed_rows(result)
        result = await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now))
        removed["idempotency_records"] = changed_rows(result)
    if any(removed.values()):
        log.info("retention purge removed %s", removed)
    return removed
