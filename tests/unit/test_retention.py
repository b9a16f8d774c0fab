"""Log retention by plan, on a real database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from kirem.cli_support import context_for
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.inbound.events import record_event
from kirem.inbound.models import Event, RawEvent
from kirem.messaging.models import IdempotencyRecord, MessageLog
from kirem.retention import purge_expired
from kirem.tenancy import service


async def test_each_plan_keeps_its_retention_and_no_more(database: Database, settings) -> None:
    ctx = context_for(settings)
    now = utcnow()
    async with ctx.db.transaction() as session:
        projects = {}
        for plan in ("developer", "growth"):
            account = await service.create_account(session, f"{plan}-co", plan)
            projects[plan] = (await service.create_project(session, ctx.sealer, account, "main")).id
        for plan, project_id in projects.items():
            for age in (3, 10, 40):
                at = now - timedelta(days=age)
                session.add(
                    MessageLog(
                        project_id=project_id, direction="outbound", type="text", status="sent", created_at=at
                    )
                )
                await record_event(
                    session,
                    project_id=project_id,
                    type="account.update",
                    dedup_key=f"{plan}{age}",
                    data={},
                    now=at,
                )
        session.add(
            RawEvent(source="meta", body=b"{}", status="processed", received_at=now - timedelta(days=400))
        )
        session.add(
            RawEvent(source="meta", body=b"{}", status="pending", received_at=now - timedelta(days=400))
        )
        session.add(
            IdempotencyRecord(
                project_id=projects["growth"], key="k", fingerprint="f", expires_at=now - timedelta(seconds=1)
            )
        )
    removed = await purge_expired(ctx, now)
    assert removed["message_logs"] == 2 + 1  # developer keeps 7 days, growth 30
    assert removed["events"] == 3 and removed["raw_events"] == 1 and removed["idempotency_records"] == 1
    async with ctx.db.session() as session:
        for plan, kept in (("developer", 1), ("growth", 2)):
            count = (
                select(func.count()).select_from(MessageLog).where(MessageLog.project_id == projects[plan])
            )
            assert await session.scalar(count) == kept
            events = select(func.count()).select_from(Event).where(Event.project_id == projects[plan])
            assert await session.scalar(events) == kept
        assert (
            await session.scalar(select(func.count()).select_from(RawEvent)) == 1
        )  # pending is never purged
    assert sum((await purge_expired(ctx, now)).values()) == 0
    await ctx.aclose()
