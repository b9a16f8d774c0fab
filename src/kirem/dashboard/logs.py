"""Message logs (the analytics API's filters, server-side pages, a streamed CSV export) and the
analytics page (messages and delivery success per day, as inline SVG)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import func, select

from kirem.analytics.messages import DIRECTIONS, STATUSES, daily_counts, iter_message_logs, query_message_logs
from kirem.analytics.params import Window, parse_int, parse_window
from kirem.dashboard.auth import ProjectAccess, require_role
from kirem.dashboard.hooks_charts import DailySeries, bar_chart, day_labels
from kirem.dashboard.nav import project_url
from kirem.dashboard.web import SECURITY_HEADERS, render
from kirem.db.base import utcnow
from kirem.delivery.models import DeliveryAttempt

router = APIRouter()

STAFF = require_role("owner", "developer")
PAGE_SIZE = 50
MAX_PAGE = 100_000
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
FAILED = frozenset({"failed"})


def _filters(source: Any) -> dict[str, str]:
    return {name: value for name in FILTERS if isinstance(value := source.get(name), str) and value.strip()}


def _parse(filters: dict[str, str], errors: dict[str, str]) -> Window:
    """The API's checks of ``GET /v1/analytics/messages`` (same parameters, same messages)."""
    window = parse_window(filters.get("since"), filters.get("until"), str(PAGE_SIZE), None, errors)
    status, direction = filters.get("status"), filters.get("direction")
    if status and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    if direction and direction not in DIRECTIONS:
        errors["direction"] = "must be 'inbound' or 'outbound'"
    return window


def _query(filters: dict[str, str]) -> dict[str, str | None]:
    return {key: filters.get(key) for key in ("status", "direction", "recipient", "type")}


@router.get("/dashboard/p/{project_id}/logs")
async def logs_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    params = request.query_params
    filters = _filters(params)
    errors: dict[str, str] = {}
    page = parse_int("page", params.get("page"), 1, 1, MAX_PAGE, errors)
    window = _parse(filters, errors)
    data: dict[str, Any] = {"total": 0, "logs": []}
    if not errors:
        paged = Window(window.since, window.until, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        data = await query_message_logs(access.session, access.project.id, paged, _query(filters))
    base = project_url(access.project.id, "logs")

    def page_url(number: int) -> str:
        return f"{base}?{urlencode({**filters, 'page': str(number)})}"

    context = {
        "filters": filters,
        "errors": errors,
        "rows": data["logs"],
        "total": data["total"],
        "page": page,
        "has_next": page * PAGE_SIZE < data["total"],
        "page_url": page_url,
        "export_url": f"{base}/export.csv?{urlencode(filters)}",
        "statuses": STATUSES,
        "directions": DIRECTIONS,
    }
    return render(request, "hooks/logs.html", context, 400 if errors else 200)


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
    filters = _filters(request.query_params)
    errors: dict[str, str] = {}
    window = _parse(filters, errors)
    if errors:
        context = {
            "filters": filters,
            "errors": errors,
            "rows": [],
            "total": 0,
            "page": 1,
            "has_next": False,
            "page_url": lambda number: "",
            "export_url": "",
            "statuses": STATUSES,
            "directions": DIRECTIONS,
        }
        return render(request, "hooks/logs.html", context, 400)
    name = f"kirem-messages-{access.project.id}-{utcnow():%Y%m%d-%H%M%S}.csv"
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(
        _csv_rows(access, window, filters), media_type="text/csv; charset=utf-8", headers=headers
    )


# Analytics -----------------------------------------------------------------------------------


async def _attempt_counts(access: ProjectAccess, since: Any, until: Any) -> dict[str, tuple[int, int]]:
    """``day → (successful attempts, all attempts)`` of the project's webhook deliveries."""
    day = func.date(DeliveryAttempt.created_at)
    stmt = (
        select(day, DeliveryAttempt.is_success, func.count())
        .where(
            DeliveryAttempt.project_id == access.project.id,
            DeliveryAttempt.created_at >= since,
            DeliveryAttempt.created_at <= until,
        )
        .group_by(day, DeliveryAttempt.is_success)
    )
    counts: dict[str, tuple[int, int]] = {}
    for value, success, number in await access.session.execute(stmt):
        ok, total = counts.get(str(value), (0, 0))
        counts[str(value)] = (ok + (int(number) if success else 0), total + int(number))
    return counts


@router.get("/dashboard/p/{project_id}/analytics")
async def analytics_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    errors: dict[str, str] = {}
    days = parse_int("days", request.query_params.get("days"), ANALYTICS_DAYS[0], 1, 90, errors)
    if days not in ANALYTICS_DAYS:
        days = ANALYTICS_DAYS[0]
    until = utcnow()
    labels = day_labels(until, days)
    since = until.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    series = DailySeries(labels)
    for day, direction, status, count in await daily_counts(access.session, access.project.id, since, until):
        if status in FAILED:
            series.add("failed", day, count)
        elif direction == "inbound":
            series.add("received", day, count)
        else:
            series.add("sent", day, count)
    attempts = await _attempt_counts(access, since, until)
    ok_total = sum(ok for ok, _ in attempts.values())
    all_total = sum(total for _, total in attempts.values())
    rates = [
        {"day": label, "ok": attempts.get(label, (0, 0))[0], "total": attempts.get(label, (0, 0))[1]}
        for label in labels
    ]
    context = {
        "days": days,
        "choices": ANALYTICS_DAYS,
        "totals": series.totals(),
        "chart": bar_chart(series, ("sent", "received", "failed")),
        "rates": rates,
        "success_rate": round(100 * ok_total / all_total, 1) if all_total else None,
        "attempts_total": all_total,
        "logs_url": project_url(access.project.id, "logs"),
    }
    return render(request, "hooks/analytics.html", context)
