"""A plan change takes effect at once and deletes nothing.

After the account's plan (or its limit overrides) changes, :func:`apply_limits` walks what the
account has, oldest first, and keeps enabled what the plan allows: projects, active channels
(account-wide), and per project its webhook targets and routing rules. What is over the limit is
disabled with a reason shown in its GET, and flagged as disabled by the plan; what the plan allows
again (an upgrade) and was disabled by the plan is re-enabled. What the user disabled stays as the
user left it and does not take a place. A channel re-enabled gets the Meta webhooks kept for its
number while the plan had it disabled: they go through the pipeline again. Retention shrinks only
forward (:func:`shrink_retention`).
A project's dedicated outbound settings are kept as they are: whether deliveries use them is read
from the account's limits when they are looked up (``kirem.tenancy.egress``); :func:`change_plan`
only reports the projects whose settings stopped or started applying.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.db.scope import for_project
from kirem.delivery.worker import disable_target
from kirem.inbound.unrouted import take_again
from kirem.kit.enums import ChannelStatus
from kirem.routing.models import RoutingRule, WebhookTarget
from kirem.tenancy.limits import lock_owner
from kirem.tenancy.models import Account, Channel, Project
from kirem.tenancy.plans import PlanLimits, plan_lifting
from kirem.tenancy.service import account_limits, account_projects, check_plan_name


def over_limit(plan: str, feature: str, limit: int, noun: str, needed: int) -> str:
    return (
        f"Over the {plan} plan's limit of {limit} {noun}; "
        f"upgrade to the {plan_lifting(feature, needed)} plan to re-enable it."
    )


async def change_plan(
    session: AsyncSession,
    account: Account,
    *,
    plan: str | None = None,
    overrides: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Give ``account`` a new plan and/or limit overrides, and apply its limits (the caller commits)."""
    if plan is not None:
        check_plan_name(plan)
    now = now or utcnow()
    await lock_owner(session, Account, account.id)
    before = account_limits(account)
    if plan is not None:
        account.plan = plan
    if overrides is not None:
        account.limit_overrides = overrides
    after = account_limits(account)
    shrink_retention(account, before, after, now)
    changes = await apply_limits(session, account, now)
    changes["egress"] = await _egress(session, account, before, after)
    return changes


def shrink_retention(account: Account, before: PlanLimits, after: PlanLimits, now: datetime) -> None:
    """A shorter retention applies to what is stored from ``now`` on; older rows keep the longer one.

    Repeated downgrades keep the longest retention still owed; an upgrade to at least that long
    ends the exception.
    """
    owed = max(before.retention_days, account.retention_days_before or 0)
    if after.retention_days < owed:
        account.retention_days_before = owed
        account.retention_changed_at = now
    else:
        account.retention_days_before = None
        account.retention_changed_at = None


async def _egress(
    session: AsyncSession, account: Account, before: PlanLimits, after: PlanLimits
) -> dict[str, list[str]]:
    """The projects whose outbound settings stop (``disabled``) or start (``enabled``) applying."""
    changes: dict[str, list[str]] = {"disabled": [], "enabled": []}
    if before.dedicated_outbound_ip != after.dedicated_outbound_ip:
        projects = await account_projects(session, account)
        verb = "enabled" if after.dedicated_outbound_ip else "disabled"
        changes[verb] = [project.id for project in projects if project.egress]
    return changes


def _split(rows: Sequence[Any], limit: int | None) -> tuple[list[Any], list[Any]]:
    return (list(rows), []) if limit is None else (list(rows[:limit]), list(rows[limit:]))


async def apply_limits(
    session: AsyncSession, account: Account, now: datetime | None = None
) -> dict[str, Any]:
    """Disable what is over the account's limits, re-enable what the plan allows again.

    Returns the ids disabled and re-enabled, by kind.
    """
    now = now or utcnow()
    limits = account_limits(account)
    changes: dict[str, dict[str, list[str]]] = {
        kind: {"disabled": [], "enabled": []} for kind in ("projects", "channels", "targets", "rules")
    }
    projects = await account_projects(session, account)
    kept, over = _split(projects, limits.projects)
    for project in kept:
        if project.disabled_reason is not None:
            project.disabled_reason = None
            changes["projects"]["enabled"].append(project.id)
    for project in over:
        if project.disabled_reason is None:
            project.disabled_reason = over_limit(
                account.plan, "projects", limits.projects or 0, "project(s)", len(projects)
            )
            changes["projects"]["disabled"].append(project.id)
    await _channels(session, account, limits, {p.id: p for p in kept}, now, changes["channels"])
    for project in kept:
        await lock_owner(session, Project, project.id)  # creates of targets and rules wait for this
        await _targets(session, account.plan, project.id, limits.webhook_targets, now, changes["targets"])
        await _rules(session, account.plan, project.id, limits.routing_rules, changes["rules"])
    await session.flush()
    return changes


async def _channels(
    session: AsyncSession,
    account: Account,
    limits: PlanLimits,
    enabled_projects: dict[str, Project],
    now: datetime,
    changes: dict[str, list[str]],
) -> None:
    """Active channels and channels the plan disabled, oldest first, in projects the plan keeps.

    A channel re-enabled gets the webhooks kept for its number while it was disabled."""
    stmt = (
        select(Channel)
        .join(Project, Project.id == Channel.project_id)
        .where(Project.account_id == account.id)
        .where((Channel.status == ChannelStatus.ACTIVE) | Channel.disabled_by_plan.is_(True))
        .order_by(Channel.created_at, Channel.id)
    )
    channels = list((await session.execute(stmt)).scalars())
    usable = [c for c in channels if c.project_id in enabled_projects]
    kept, over = _split(usable, limits.channels)
    over += [c for c in channels if c.project_id not in enabled_projects]
    for channel in kept:
        if channel.disabled_by_plan:
            channel.status, channel.disabled_reason, channel.disabled_by_plan = "active", None, False
            await take_again(session, channel, channel.plan_disabled_at or channel.created_at)
            channel.plan_disabled_at = None
            changes["enabled"].append(channel.id)
    for channel in over:
        if channel.status == ChannelStatus.ACTIVE:
            reason = (
                over_limit(account.plan, "channels", limits.channels or 0, "channel(s)", len(usable))
                if channel.project_id in enabled_projects
                else "Its project is disabled: "
                + over_limit(
                    account.plan, "projects", limits.projects or 0, "project(s)", len(enabled_projects) + 1
                )
            )
            channel.status, channel.disabled_reason, channel.disabled_by_plan = "disabled", reason, True
            channel.plan_disabled_at = now
            changes["disabled"].append(channel.id)


Switchable = TypeVar("Switchable", WebhookTarget, RoutingRule)


async def _plan_managed(session: AsyncSession, model: type[Switchable], project_id: str) -> list[Switchable]:
    """The project's enabled rows of ``model`` and those the plan disabled, oldest first: what a
    plan's count limit is applied to (rows the user disabled take no place)."""
    stmt = (
        for_project(model, project_id)
        .where(model.enabled.is_(True) | model.disabled_by_plan.is_(True))
        .order_by(model.created_at, model.id)
    )
    return list((await session.execute(stmt)).scalars())


async def _targets(
    session: AsyncSession,
    plan: str,
    project_id: str,
    limit: int | None,
    now: datetime,
    changes: dict[str, list[str]],
) -> None:
    targets = await _plan_managed(session, WebhookTarget, project_id)
    kept, over = _split(targets, limit)
    reason = over_limit(plan, "webhook_targets", limit or 0, "webhook target(s)", len(targets))
    for target in kept:
        if target.disabled_by_plan:
            target.enabled, target.disabled_by_plan = True, False
            target.disabled_reason = target.disabled_at = target.failing_since = None
            changes["enabled"].append(target.id)
    for target in over:
        if target.enabled:
            await disable_target(session, target, reason, now)
            target.disabled_by_plan = True
            changes["disabled"].append(target.id)


async def _rules(
    session: AsyncSession, plan: str, project_id: str, limit: int | None, changes: dict[str, list[str]]
) -> None:
    rules = await _plan_managed(session, RoutingRule, project_id)
    kept, over = _split(rules, limit)
    for rule in kept:
        if rule.disabled_by_plan:
            rule.enabled, rule.disabled_by_plan, rule.disabled_reason = True, False, None
            changes["enabled"].append(rule.id)
    for rule in over:
        if rule.enabled:
            rule.enabled, rule.disabled_by_plan = False, True
            rule.disabled_reason = over_limit(
                plan, "routing_rules", limit or 0, "routing rule(s)", len(rules)
            )
            changes["disabled"].append(rule.id)
