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
    dedicated_outbound_ip: bool
    dedicated_mcp: bool
    sla_thresholds: bool


PLANS: dict[str, PlanLimits] = {
    "developer": PlanLimits(
        projects=1,
        channels=1,
        outbound_per_day=20,
        retention_days=7,
        webhook_targets=1,
        routing_rules=0,
        analytics_api=False,
        ip_allowlist=False,
        customer_setup_links=False,
        dedicated_outbound_ip=False,
        dedicated_mcp=False,
        sla_thresholds=False,
    ),
    "growth": PlanLimits(
        projects=None,
        channels=None,
        outbound_per_day=None,
        retention_days=30,
        webhook_targets=5,
        routing_rules=5,
        analytics_api=True,
        ip_allowlist=True,
        customer_setup_links=False,
        dedicated_outbound_ip=False,
        dedicated_mcp=False,
        sla_thresholds=False,
    ),
    "scale": PlanLimits(
        projects=None,
        channels=None,
        outbound_per_day=None,
        retention_days=90,
        webhook_targets=None,
        routing_rules=None,
        analytics_api=True,
        ip_allowlist=True,
        customer_setup_links=True,
        dedicated_outbound_ip=True,
        dedicated_mcp=False,
        sla_thresholds=False,
    ),
    "enterprise": PlanLimits(
        projects=None,
        channels=None,
        outbound_per_day=None,
        retention_days=365,
        webhook_targets=None,
        routing_rules=None,
        analytics_api=True,
        ip_allowlist=True,
        customer_setup_links=True,
        dedicated_outbound_ip=True,
        dedicated_mcp=True,
        sla_thresholds=True,
    ),
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
