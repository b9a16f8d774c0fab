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


_COUNTS: dict[str, dict[str, int]] = {
    "developer": {
        "projects": 1,
        "channels": 1,
        "outbound_per_day": 20,
        "retention_days": 7,
        "webhook_targets": 1,
        "routing_rules": 0,
    },
    "growth": {"retention_days": 30, "webhook_targets": 5, "routing_rules": 5},
    "scale": {"retention_days": 90},
    "enterprise": {"retention_days": 365},
}
"""Each plan's counted limits; one it does not name is unlimited."""
_FEATURES_FROM: dict[str, str] = {
    "analytics_api": "growth",
    "ip_allowlist": "growth",
    "customer_setup_links": "scale",
    "dedicated_outbound_ip": "scale",
    "dedicated_mcp": "enterprise",
    "sla_thresholds": "enterprise",
}
"""The cheapest plan with each feature: every plan above it has the feature too."""


def _plan(name: str) -> PlanLimits:
    rank = PLAN_ORDER.index(name)
    features = {feature: rank >= PLAN_ORDER.index(first) for feature, first in _FEATURES_FROM.items()}
    counted = {item.name: UNLIMITED for item in fields(PlanLimits) if item.name not in features}
    values: dict[str, Any] = {**counted, **_COUNTS[name], **features}
    return PlanLimits(**values)


PLANS: dict[str, PlanLimits] = {name: _plan(name) for name in PLAN_ORDER}


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


MAX_RETENTION_DAYS = 36_500


def override_errors(overrides: dict[str, Any]) -> dict[str, str]:
    """Why each override value does not fit its limit: counts are whole numbers or null, flags booleans."""
    errors: dict[str, str] = {}
    for item in fields(PlanLimits):
        if item.name not in overrides:
            continue
        value = overrides[item.name]
        if item.name == "retention_days":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RETENTION_DAYS:
                errors[item.name] = f"must be a whole number of days from 1 to {MAX_RETENTION_DAYS}"
        elif item.type in ("bool", bool):
            if not isinstance(value, bool):
                errors[item.name] = "must be true or false"
        elif value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            errors[item.name] = "must be a whole number of 0 or more, or null for unlimited"
    return errors


def plan_lifting(feature: str, needed: int | bool = True) -> str:
    """The cheapest plan whose limit for ``feature`` allows ``needed`` (a count or a flag)."""
    for name in PLAN_ORDER:
        value = getattr(PLANS[name], feature)
        if value is None or value is True or (not isinstance(value, bool) and value >= needed):
            return name
    return "enterprise"
