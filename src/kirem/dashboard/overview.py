"""The project overview: today's messages and deliveries, failing targets, usage against the plan."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kirem.dashboard.auth import ProjectAccess, require_role
from kirem.dashboard.charts import grouped_bars
from kirem.dashboard.overview_stats import (
    daily_messages,
    deliveries_today,
    failing_targets,
    outbound_today,
    today,
)
from kirem.dashboard.web import render
from kirem.db.base import utcnow
from kirem.tenancy.service import list_channels
from kirem.usage.meter import month_of
from kirem.usage.report import project_usage

router = APIRouter()

SERIES = ("sent", "received", "failed")


def meter(used: int, limit: int | None) -> dict[str, object]:
    """A usage bar: the share of ``limit`` used (no bar when the plan sets no limit)."""
    if limit is None:
        return {"used": used, "limit": None, "percent": None, "over": False}
    percent = min(100, round(used * 100 / limit)) if limit else 100
    return {"used": used, "limit": limit, "percent": percent, "over": used >= limit}


@router.get("/dashboard/p/{project_id}/overview")
async def overview(
    request: Request, access: ProjectAccess = Depends(require_role("owner", "developer"))
) -> Response:
    session, project = access.session, access.project
    now = utcnow()
    days = await daily_messages(session, project.id, now)
    figures = today(days, await deliveries_today(session, project.id, now))
    usage = await project_usage(session, project.id, month_of(now), access.ctx.settings.price_table)
    channels = await list_channels(session, project.id)
    limits = access.tenant.limits
    context = {
        "today": figures,
        "chart": grouped_bars([(day[5:], values) for day, values in days], SERIES),
        "series": SERIES,
        "failing": await failing_targets(session, project.id),
        "usage": usage,
        "limits": limits,
        "quota": meter(await outbound_today(session, access.account.id, now), limits.outbound_per_day),
        "channels": channels,
    }
    return render(request, "overview.html", context)
