"""The plan table: every limit and feature flag in one place, overridable per account."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

PLAN_ORDER = ("developer", "growth", "scale", "enterprise")
UNLIMITED = None


@dataclass(frozen=True)
class PlanLimits:
    projects: int | None
    channels: int | None
    outbound_per_day: int | None
    retention_days: int
    webhook_targets: int | None
    routing_rules: int | None
    analytics_api: bool
    ip_allowlist: bool
    customer_setup_links: bool


PLANS: dict[str, PlanLimits] = {
    "developer": PlanLimits(1, 1, 20, 7, 1, 0, False, False, False),
    "growth": PlanLimits(None, None, None, 30, 5, 5, True, True, False),
    "scale": PlanLimits(None, None, None, 90, None, None, True, True, True),
    "enterprise": PlanLimits(None, None, None, 365, None, None, True, True, True),
}


@dataclass(frozen=True)
class PlanFee:
    """What a plan costs a month in IDR, and whether metered usage is billed on top."""

    monthly_idr: int
    bills_usage: bool


PLAN_FEES: dict[str, PlanFee] = {
    "developer": PlanFee(0, False),
    "growth": PlanFee(25_000, True),
    "scale": PlanFee(100_000, True),
    "enterprise": PlanFee(1_000_000, False),
}


def limits_for(plan: str, overrides: dict[str, Any] | None = None) -> PlanLimits:
    """The plan's limits with the operator's per-account overrides applied."""
    base = PLANS[plan]
    known = {f.name for f in fields(PlanLimits)}
    return replace(base, **{k: v for k, v in (overrides or {}).items() if k in known})


def plan_lifting(feature: str, needed: int | bool = True) -> str:
    """The cheapest plan whose limit for ``feature`` allows ``needed`` (a count or a flag)."""
    for name in PLAN_ORDER:
        value = getattr(PLANS[name], feature)
        if value is None or value is True or (not isinstance(value, bool) and value >= needed):
            return name
    return "enterprise"
