"""Reading the counters back: a project's month, an account's month per project, and their bill."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.db.scope import for_project
from kirem.kit.errors import invalid
from kirem.tenancy.models import Account, Project
from kirem.tenancy.service import account_projects
from kirem.usage.meter import ATTEMPTS, CATEGORY_PREFIX, DELIVERIES, INBOUND, OUTBOUND_PREFIX, month_of
from kirem.usage.models import UsageCounter
from kirem.usage.prices import bill, charges

CATEGORIES = ("marketing", "utility", "authentication", "service")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str | None) -> str:
    """``YYYY-MM`` (a UTC month); the current month when absent; 400 otherwise."""
    if value is None or value == "":
        return month_of(utcnow())
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1970:
        raise invalid({"month": "must be a month as YYYY-MM, e.g. 2026-11"})
    return value


def summary(counts: dict[str, int]) -> dict[str, Any]:
    """The counters of one project and month as the API shows them."""
    by_type = {
        m[len(OUTBOUND_PREFIX) :]: n for m, n in sorted(counts.items()) if m.startswith(OUTBOUND_PREFIX)
    }
    by_category = dict.fromkeys(CATEGORIES, 0)
    by_category.update(
        {m[len(CATEGORY_PREFIX) :]: n for m, n in sorted(counts.items()) if m.startswith(CATEGORY_PREFIX)}
    )
    return {
        "messages": {
            "outbound": sum(by_type.values()),
            "outbound_by_type": by_type,
            "by_category": by_category,
            "inbound": counts.get(INBOUND, 0),
        },
        "webhooks": {"deliveries": counts.get(DELIVERIES, 0), "attempts": counts.get(ATTEMPTS, 0)},
    }


async def project_usage(
    session: AsyncSession, project_id: str, month: str, prices: dict[str, int]
) -> dict[str, Any]:
    stmt = for_project(UsageCounter, project_id).where(UsageCounter.month == month)
    counts = {row.metric: row.count for row in (await session.execute(stmt)).scalars()}
    totals = summary(counts)
    return {"project_id": project_id, "month": month, **totals, "charges": charges(totals, prices)}


async def account_usage(
    session: AsyncSession, account: Account, month: str, prices: dict[str, int]
) -> dict[str, Any]:
    """Every project of the account for ``month``, and the account's estimated bill."""
    projects = await account_projects(session, account)
    rows = await session.execute(
        select(UsageCounter)
        .join(Project, Project.id == UsageCounter.project_id)
        .where(Project.account_id == account.id, UsageCounter.month == month)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows.scalars():
        counts[row.project_id][row.metric] = row.count
    views = []
    for project in projects:
        totals = summary(counts[project.id])
        views.append(
            {"project_id": project.id, "name": project.name, **totals, "charges": charges(totals, prices)}
        )
    usage_amount = sum(view["charges"]["amount"] for view in views)
    return {
        "account_id": account.id,
        "month": month,
        "projects": views,
        "bill": bill(account.plan, usage_amount),
    }
