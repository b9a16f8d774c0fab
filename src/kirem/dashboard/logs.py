"""Message logs (the analytics API's filters, server-side pages, a streamed CSV export) and the
analytics page (messages and delivery success per day, as inline SVG)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse

from kirem.analytics.messages import DIRECTIONS, STATUSES, iter_message_logs, query_message_logs
from kirem.dashboard.auth import ProjectAccess, require_role
from kirem.dashboard.charts import grouped_bars
from kirem.dashboard.listing import Listing, filter_window, listing, present_filters
from kirem.dashboard.nav import project_url
from kirem.dashboard.overview_stats import daily_attempts, daily_messages
from kirem.dashboard.web import SECURITY_HEADERS, render
from kirem.db.base import utcnow
from kirem.kit.params import Window, parse_int

router = APIRouter()

STAFF = require_role("owner", "developer")
FILTERS = ("status", "direction", "recipient", "type", "since", "until")
CSV_COLUMNS = (
    "created_at",
    "id",
    "message_id",
    "channel_id",
    "direction",
    "type",
    "status",
    "recipient",
    "recipient_user_id",
    "sender",
    "error_code",
    "error_message",
    "updated_at",
)
ANALYTICS_DAYS = (7, 30, 90)
SERIES = ("sent", "received", "failed")


def _check(filters: dict[str, str], errors: dict[str, str]) -> None:
    """The API's checks of ``GET /v1/analytics/messages`` beyond the window (same messages)."""
    status, direction = filters.get("status"), filters.get("direction")
    if status and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    if direction and direction not in DIRECTIONS:
        errors["direction"] = "must be 'inbound' or 'outbound'"


def _query(filters: dict[str, str]) -> dict[str, str | None]:
    return {key: filters.get(key) for key in ("status", "direction", "recipient", "type")}


@router.get("/dashboard/p/{project_id}/logs")
async def logs_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    shown = listing(request.query_params, FILTERS)
    filters = shown.filters
    _check(filters, shown.errors)
    data: dict[str, Any] = {"total": 0, "logs": []}
    if not shown.errors:
        data = await query_message_logs(access.session, access.project.id, shown.window, _query(filters))
    base = project_url(access.project.id, "logs")

    def page_url(number: int) -> str:
        return f"{base}?{urlencode({**filters, 'page': str(number)})}"

    export_url = f"{base}/export.csv?{urlencode(filters)}"
    return _logs_page(request, shown.context(data["logs"], data["total"], page_url), export_url)


def _logs_page(request: Request, listed: dict[str, Any], export_url: str) -> Response:
    context = {**listed, "export_url": export_url, "statuses": STATUSES, "directions": DIRECTIONS}
    return render(request, "hooks/logs.html", context)


async def _csv_rows(access: ProjectAccess, window: Window, filters: dict[str, str]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    async with access.ctx.db.session() as session:
        async for batch in iter_message_logs(session, access.project.id, window, _query(filters)):
            buffer.seek(0)
            buffer.truncate()
            for row in batch:
                writer.writerow(["" if row[column] is None else row[column] for column in CSV_COLUMNS])
            yield buffer.getvalue()


@router.get("/dashboard/p/{project_id}/logs/export.csv")
async def export_logs(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    """Every log the filters select, streamed (batches read by keyset, nothing held in memory)."""
    filters = present_filters(request.query_params, FILTERS)
    errors: dict[str, str] = {}
    window = filter_window(filters, errors)
    _check(filters, errors)
    if errors:
        refused = Listing(filters, errors, 1, window)
        return _logs_page(request, refused.context([], 0, lambda number: ""), "")
    name = f"kirem-messages-{access.project.id}-{utcnow():%Y%m%d-%H%M%S}.csv"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(
        _csv_rows(access, window, filters), media_type="text/csv; charset=utf-8", headers=headers
    )


# Analytics ---------------------------------------------------------------------------------


@router.get("/dashboard/p/{project_id}/analytics")
async def analytics_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    errors: dict[str, str] = {}
    days = parse_int("days", request.query_params.get("days"), ANALYTICS_DAYS[0], 1, 90, errors)
    if days not in ANALYTICS_DAYS:
        days = ANALYTICS_DAYS[0]
    now = utcnow()
    messages = await daily_messages(access.session, access.project.id, now, days)
    attempts = await daily_attempts(access.session, access.project.id, now, days)
    totals = {name: sum(values.get(name, 0) for _, values in messages) for name in SERIES}
    succeeded = sum(ok for _, ok, _ in attempts)
    tried = sum(total for _, _, total in attempts)
    context = {
        "days": days,
        "choices": ANALYTICS_DAYS,
        "totals": totals,
        "series": SERIES,
        "chart": grouped_bars([(day[5:], values) for day, values in messages], SERIES),
        "rates": [{"day": day, "ok": ok, "total": total} for day, ok, total in reversed(attempts)],
        "success_rate": round(100 * succeeded / tried, 1) if tried else None,
        "attempts_total": tried,
        "logs_url": project_url(access.project.id, "logs"),
    }
    return render(request, "hooks/analytics.html", context)
