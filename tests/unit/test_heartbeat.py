"""Worker heartbeats and queue lag: what ``/readyz``, ``kirem status`` and ``/metrics`` report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.heartbeat import backlog, host_report
from kirem.inbound.models import RawEvent
from kirem.runtime import Runtime


async def until(check: Callable[[], bool]) -> bool:
    for _ in range(400):
        if check():
            return True
        await asyncio.sleep(0.025)
    return check()


async def test_a_runtime_beats_while_its_loops_run_and_forgets_itself_when_stopped(
    database: Database, settings: Settings
) -> None:
    ctx = context_for(settings.model_copy(update={"heartbeat_seconds": 0.05}))
    runtime = Runtime(ctx)
    await runtime.start()
    try:
        assert await until(runtime.beating)
        async with ctx.db.session() as session:
            report = await host_report(session, utcnow(), 10.0)
        assert report["workers"]["live"] == 1 and report["this_host"]["live"] == 1
        runtime.tasks[0].cancel()  # a background loop dies: the beat stops, readiness follows
        assert await until(lambda: not runtime.beating())
    finally:
        await runtime.stop()
        await ctx.aclose()
    async with database.session() as session:
        after = await backlog(session, utcnow(), 0.05)
    assert after.live_workers == 0 and after.heartbeat_age_seconds is None


async def test_the_backlog_is_the_age_of_the_oldest_waiting_work(database: Database) -> None:
    now = utcnow()
    async with database.transaction() as session:
        session.add(RawEvent(source="meta", body=b"{}", received_at=now - timedelta(seconds=42)))
        session.add(RawEvent(source="meta", body=b"{}", received_at=now - timedelta(seconds=7)))
        session.add(
            RawEvent(source="meta", body=b"{}", received_at=now - timedelta(hours=1), status="processed")
        )
    async with database.session() as session:
        report = await backlog(session, now, 10.0)
    assert report.oldest_inbound_seconds == 42.0
    assert report.oldest_delivery_seconds == 0.0 and report.live_workers == 0
    assert report.view()["queues"] == {
        "oldest_pending_delivery_seconds": 0.0,
        "oldest_pending_inbound_seconds": 42.0,
    }
