"""SLA policies: validation, the window's figures, and transitions told once across processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select, update

from kirem.api.responses import ApiError
from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.delivery.models import Delivery
from kirem.enterprise.models import SlaPolicy
from kirem.enterprise.sla import evaluate_due, parse_policy, window_stats
from kirem.inbound.events import record_event
from kirem.inbound.models import Event
from kirem.metrics import Metrics
from kirem.routing.models import WebhookTarget
from kirem.tenancy import service
from kirem.tenancy.models import Account


@dataclass
class Enterprise:
    ctx: AppContext
    account_id: str
    project_id: str
    target_id: str
    now: datetime

    async def finished(self, status: str, latency_ms: int, ago_seconds: float = 10.0) -> None:
        """A delivery created ``latency_ms`` before it finished, ``ago_seconds`` ago."""
        completed = self.now - timedelta(seconds=ago_seconds)
        async with self.ctx.db.transaction() as session:
            event = await record_event(
                session,
                project_id=self.project_id,
                type="messages.received",
                dedup_key=f"msg:{status}:{latency_ms}:{ago_seconds}:{id(object())}:{utcnow().timestamp()}",
                data={"type": "text"},
                now=completed,
            )
            assert event is not None
            session.add(
                Delivery(
                    project_id=self.project_id,
                    event_id=event.id,
                    target_id=self.target_id,
                    event_type=event.type,
                    status=status,
                    created_at=completed - timedelta(milliseconds=latency_ms),
                    completed_at=completed,
                )
            )

    async def policy(self, **values: Any) -> None:
        async with self.ctx.db.transaction() as session:
            policy = SlaPolicy(project_id=self.project_id, state="ok", next_evaluation_at=self.now, **values)
            session.add(policy)

    async def due_again(self) -> None:
        async with self.ctx.db.transaction() as session:
            await session.execute(update(SlaPolicy).values(next_evaluation_at=self.now))

    async def told(self) -> list[dict[str, Any]]:
        async with self.ctx.db.session() as session:
            events = (
                await session.execute(
                    select(Event).where(Event.type.like("sla.%")).order_by(Event.created_at)
                )
            ).scalars()
            return [orjson.loads(e.kirem_body) for e in events]


@pytest.fixture
async def enterprise(database: Database, settings: Settings) -> AsyncIterator[Enterprise]:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "sla-co", "enterprise")
        project = await service.create_project(session, ctx.sealer, account, "main")
        target = WebhookTarget(project_id=project.id, url="http://127.0.0.1:9/hook")
        session.add(target)
        await session.flush()
    yield Enterprise(ctx, account.id, project.id, target.id, utcnow())
    await ctx.aclose()


def test_a_policy_is_validated() -> None:
    assert parse_policy({"window_seconds": 3600, "min_success_rate": 0.99}) == {
        "window_seconds": 3600,
        "min_success_rate": 0.99,
        "max_p95_latency_ms": None,
        "min_deliveries": 20,
    }
    bad = [
        {},
        {"window_seconds": 3600},
        {"window_seconds": 10, "min_success_rate": 0.9},
        {"window_seconds": "3600", "min_success_rate": 0.9},
        {"window_seconds": 3600.5, "min_success_rate": 0.9},
        {"window_seconds": 3600, "min_success_rate": 1.5},
        {"window_seconds": 3600, "min_success_rate": True},
        {"window_seconds": 3600, "max_p95_latency_ms": 0},
        {"window_seconds": 3600, "max_p95_latency_ms": 10**30},
        {"window_seconds": 3600, "max_p95_latency_ms": 500, "min_deliveries": 0},
        {"window_seconds": 3600, "max_p95_latency_ms": 500, "threshold": 1},
    ]
    for body in bad:
        with pytest.raises(ApiError) as refused:
            parse_policy(body)
        assert refused.value.status == 400 and refused.value.errors, body


async def test_the_window_counts_finished_deliveries_and_their_p95(enterprise: Enterprise) -> None:
    for latency in range(100, 2001, 100):  # 20 successes: 100 ms … 2,000 ms
        await enterprise.finished("succeeded", latency)
    for _ in range(5):
        await enterprise.finished("failed", 50)
    await enterprise.finished("skipped", 0)
    await enterprise.finished("failed", 50, ago_seconds=7200)  # outside a one-hour window
    async with enterprise.ctx.db.session() as session:
        stats = await window_stats(session, enterprise.project_id, enterprise.now - timedelta(hours=1))
    assert (stats.succeeded, stats.failed, stats.deliveries) == (20, 5, 25)
    assert stats.success_rate == 0.8
    assert stats.p95_latency_ms == 1900  # nearest rank: the 19th of 20


async def test_a_breach_and_a_recovery_are_each_told_once(enterprise: Enterprise) -> None:
    await enterprise.policy(window_seconds=3600, min_success_rate=0.9, min_deliveries=10)
    for _ in range(8):
        await enterprise.finished("succeeded", 200)
    for _ in range(2):
        await enterprise.finished("failed", 200)
    assert await evaluate_due(enterprise.ctx, enterprise.now) == ["sla.breached"]
    assert await evaluate_due(enterprise.ctx, enterprise.now) == []  # not due yet
    await enterprise.due_again()
    assert await evaluate_due(enterprise.ctx, enterprise.now) == []  # still breached: no new event
    for _ in range(30):
        await enterprise.finished("succeeded", 200)
    await enterprise.due_again()
    assert await evaluate_due(enterprise.ctx, enterprise.now) == ["sla.recovered"]
    breached, recovered = await enterprise.told()
    assert breached["event"] == "sla.breached" and breached["data"]["violations"] == ["min_success_rate"]
    assert breached["data"]["success_rate"] == 0.8 and breached["data"]["deliveries"] == 10
    assert recovered["event"] == "sla.recovered" and recovered["data"]["violations"] == []
    async with enterprise.ctx.db.session() as session:
        queued = (
            await session.execute(select(Delivery.event_type).where(Delivery.event_type.like("sla.%")))
        ).scalars()
        assert sorted(queued) == ["sla.breached", "sla.recovered"]  # fanned out to the project's target


async def test_latency_breaches_and_too_few_deliveries_keep_the_state(enterprise: Enterprise) -> None:
    await enterprise.policy(window_seconds=600, max_p95_latency_ms=1000, min_deliveries=5)
    for _ in range(4):
        await enterprise.finished("succeeded", 5000)
    assert await evaluate_due(enterprise.ctx, enterprise.now) == []  # 4 < min_deliveries
    await enterprise.finished("succeeded", 5000)
    await enterprise.due_again()
    assert await evaluate_due(enterprise.ctx, enterprise.now) == ["sla.breached"]
    [breached] = await enterprise.told()
    assert breached["data"]["violations"] == ["max_p95_latency_ms"]
    assert breached["data"]["p95_latency_ms"] == 5000


async def test_several_processes_tell_a_transition_once_and_a_restart_does_not_repeat_it(
    enterprise: Enterprise, settings: Settings
) -> None:
    await enterprise.policy(window_seconds=3600, min_success_rate=0.99, min_deliveries=1)
    await enterprise.finished("failed", 100)
    others = [context_for(settings) for _ in range(3)]  # separate engines, as separate processes have
    try:
        results = await asyncio.gather(*(evaluate_due(ctx, enterprise.now) for ctx in others))
        assert [told for result in results for told in result] == ["sla.breached"]
        restarted = context_for(settings)
        try:
            await enterprise.due_again()
            assert await evaluate_due(restarted, enterprise.now) == []
        finally:
            await restarted.aclose()
    finally:
        for ctx in others:
            await ctx.aclose()
    assert [e["event"] for e in await enterprise.told()] == ["sla.breached"]


async def test_plans_without_slas_are_not_evaluated_and_metrics_show_the_state(
    enterprise: Enterprise,
) -> None:
    await enterprise.policy(window_seconds=3600, min_success_rate=0.99, min_deliveries=1)
    await enterprise.finished("failed", 100)
    async with enterprise.ctx.db.transaction() as session:
        await session.execute(update(Account).values(plan="scale"))
    assert await evaluate_due(enterprise.ctx, enterprise.now) == []
    async with enterprise.ctx.db.transaction() as session:
        await session.execute(update(Account).values(plan="enterprise"))
    await enterprise.due_again()
    assert await evaluate_due(enterprise.ctx, enterprise.now) == ["sla.breached"]
    metrics = Metrics()
    async with enterprise.ctx.db.session() as session:
        await metrics.refresh_enterprise(session, enterprise.now, 10.0)
    text = metrics.render().decode()
    project = enterprise.project_id
    assert f'kirem_sla_breached{{project_id="{project}"}} 1.0' in text
    assert f'kirem_sla_delivery_success_ratio{{project_id="{project}"}} 0.0' in text
    assert f'kirem_sla_window_deliveries{{project_id="{project}"}} 1.0' in text
