"""SLA thresholds per project: webhook delivery success rate and p95 latency over a sliding window.

The window covers deliveries *finished* in it: the success rate is succeeded / (succeeded + failed)
(skipped deliveries, for disabled targets, do not count), and the latency of a delivery is the time
from its creation (the event reached Kirem) to its successful attempt. A verdict needs at least
``min_deliveries`` finished deliveries; with fewer the policy keeps its state.

A transition (ok → breached, breached → ok) is written in the same transaction as the event that
tells it (``sla.breached`` / ``sla.recovered``), and a process evaluates a policy only after
moving its ``next_evaluation_at`` forward with a conditional ``UPDATE`` — so with several workers
each policy is evaluated by one of them per interval, and each transition is told exactly once,
across restarts too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Float, and_, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.db.scope import changed_rows
from kirem.delivery.enqueue import fan_out
from kirem.delivery.models import Delivery
from kirem.enterprise.models import SlaPolicy
from kirem.inbound.events import record_event
from kirem.kit.enums import DeliveryStatus
from kirem.kit.errors import invalid
from kirem.kit.params import iso
from kirem.kit.views import view_of
from kirem.tenancy.models import Account, Project
from kirem.tenancy.plans import limits_for

MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 7 * 86_400
MAX_LATENCY_MS = 86_400_000
MAX_MIN_DELIVERIES = 1_000_000
DEFAULT_MIN_DELIVERIES = 20
PERCENTILE = 0.95
EVENT_OF_STATE = {"breached": "sla.breached", "ok": "sla.recovered"}


@dataclass(frozen=True)
class WindowStats:
    succeeded: int
    failed: int
    p95_latency_ms: int | None

    @property
    def deliveries(self) -> int:
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.deliveries if self.deliveries else None


def _number(body: dict[str, Any], field: str, low: float, high: float, integer: bool) -> Any:
    value = body.get(field)
    if value is None:
        return None
    kind = "an integer" if integer else "a number"
    wrong_type = isinstance(value, bool) or not isinstance(value, int if integer else int | float)
    if wrong_type or not math.isfinite(value) or not low <= value <= high:
        raise invalid({field: f"must be {kind} from {low:g} to {high:g}"})
    return value


def parse_policy(body: dict[str, Any]) -> dict[str, Any]:
    """The policy's settings from a request body, validated; unknown fields are refused."""
    known = {"window_seconds", "min_success_rate", "max_p95_latency_ms", "min_deliveries"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise invalid({field: f"unknown field; expected {', '.join(sorted(known))}" for field in unknown})
    window = _number(body, "window_seconds", MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS, integer=True)
    if window is None:
        required = f"is required: seconds from {MIN_WINDOW_SECONDS} to {MAX_WINDOW_SECONDS}"
        raise invalid({"window_seconds": required})
    rate = _number(body, "min_success_rate", 0, 1, integer=False)
    latency = _number(body, "max_p95_latency_ms", 1, MAX_LATENCY_MS, integer=True)
    if rate is None and latency is None:
        raise invalid({"min_success_rate": "set min_success_rate, max_p95_latency_ms or both"})
    minimum = _number(body, "min_deliveries", 1, MAX_MIN_DELIVERIES, integer=True)
    return {
        "window_seconds": window,
        "min_success_rate": float(rate) if rate is not None else None,
        "max_p95_latency_ms": latency,
        "min_deliveries": minimum if minimum is not None else DEFAULT_MIN_DELIVERIES,
    }


THRESHOLD_FIELDS = "min_success_rate max_p95_latency_ms min_deliveries"
POLICY_FIELDS = (
    f"project_id window_seconds {THRESHOLD_FIELDS} state state_changed_at evaluated_at deliveries"
    " success_rate p95_latency_ms"
)


def policy_view(policy: SlaPolicy) -> dict[str, Any]:
    return view_of(policy, POLICY_FIELDS)


def _latency_seconds(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", Delivery.completed_at - Delivery.created_at)
    return cast(
        (func.julianday(Delivery.completed_at) - func.julianday(Delivery.created_at)) * 86_400.0, Float
    )


async def window_stats(session: AsyncSession, project_id: str, since: datetime) -> WindowStats:
    finished = and_(Delivery.project_id == project_id, Delivery.completed_at >= since)
    counts = select(Delivery.status, func.count()).where(finished).group_by(Delivery.status)
    by_status = {status: count for status, count in (await session.execute(counts)).all()}
    succeeded, failed = by_status.get("succeeded", 0), by_status.get("failed", 0)
    p95 = None
    if succeeded:
        latency = _latency_seconds(session.get_bind().dialect.name)
        rank = math.ceil(PERCENTILE * succeeded) - 1  # nearest-rank percentile
        seconds = await session.scalar(
            select(latency)
            .where(finished, Delivery.status == DeliveryStatus.SUCCEEDED)
            .order_by(latency)
            .offset(rank)
            .limit(1)
        )
        p95 = max(0, round(float(seconds or 0) * 1000))
    return WindowStats(succeeded, failed, p95)


def violations(policy: SlaPolicy, stats: WindowStats) -> list[str] | None:
    """The thresholds the window breaks (empty: within SLA); ``None`` when it holds too few deliveries."""
    if stats.deliveries < policy.min_deliveries:
        return None
    broken = []
    rate = stats.success_rate
    if policy.min_success_rate is not None and rate is not None and rate < policy.min_success_rate:
        broken.append("min_success_rate")
    latency = stats.p95_latency_ms
    if policy.max_p95_latency_ms is not None and latency is not None and latency > policy.max_p95_latency_ms:
        broken.append("max_p95_latency_ms")
    return broken


async def _claim(session: AsyncSession, project_id: str, now: datetime, interval: float) -> bool:
    claimed = await session.execute(
        update(SlaPolicy)
        .where(SlaPolicy.project_id == project_id, SlaPolicy.next_evaluation_at <= now)
        .values(next_evaluation_at=now + timedelta(seconds=interval))
    )
    return bool(changed_rows(claimed))


async def _tell(session: AsyncSession, policy: SlaPolicy, broken: list[str], now: datetime) -> None:
    state = policy.state
    event_type = EVENT_OF_STATE[state]
    event = await record_event(
        session,
        project_id=policy.project_id,
        type=event_type,
        dedup_key=f"{event_type}:{policy.project_id}:{now.isoformat()}",
        data={
            "project_id": policy.project_id,
            "state": state,
            "violations": broken,
            "window_seconds": policy.window_seconds,
            "deliveries": policy.deliveries,
            "success_rate": policy.success_rate,
            "p95_latency_ms": policy.p95_latency_ms,
            "thresholds": view_of(policy, THRESHOLD_FIELDS),
            "evaluated_at": iso(now),
        },
        facts={},
        now=now,
    )
    if event is not None:
        await fan_out(session, event, now=now)


async def evaluate_policy(
    session: AsyncSession, project_id: str, now: datetime, interval: float
) -> str | None:
    """Claim and evaluate one policy in the caller's transaction; the event type told, if any."""
    if not await _claim(session, project_id, now, interval):
        return None
    row = (
        await session.execute(
            select(SlaPolicy, Account)
            .join(Project, Project.id == SlaPolicy.project_id)
            .join(Account, Account.id == Project.account_id)
            .where(SlaPolicy.project_id == project_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    policy, account = row
    if not limits_for(account.plan, account.limit_overrides).sla_thresholds:
        return None  # kept as it is while the plan lacks SLAs; an upgrade resumes from its state
    stats = await window_stats(session, project_id, now - timedelta(seconds=policy.window_seconds))
    policy.evaluated_at = now
    policy.deliveries = stats.deliveries
    policy.success_rate = stats.success_rate
    policy.p95_latency_ms = stats.p95_latency_ms
    broken = violations(policy, stats)
    if broken is None:
        return None
    state = "breached" if broken else "ok"
    if state == policy.state:
        return None
    policy.state = state
    policy.state_changed_at = now
    await session.flush()
    await _tell(session, policy, broken, now)
    return EVENT_OF_STATE[state]


async def evaluate_due(ctx: AppContext, now: datetime) -> list[str]:
    """Evaluate every policy that is due (one transaction each); the events told."""
    interval = ctx.settings.sla_interval_seconds
    async with ctx.db.session() as session:
        due = list(
            (
                await session.execute(select(SlaPolicy.project_id).where(SlaPolicy.next_evaluation_at <= now))
            ).scalars()
        )
    told = []
    for project_id in due:
        async with ctx.db.transaction() as session:
            event_type = await evaluate_policy(session, project_id, now, interval)
        if event_type is not None:
            told.append(event_type)
    return told
