"""Delivery log pages: the filtered list, one delivery with its attempts, and replay (one delivery,
its event, or in bulk by filter after a confirmation that states the count)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError
from kirem.dashboard.auth import PageNotFound, ProjectAccess, check_csrf, require_role
from kirem.dashboard.listing import filter_window, listing, present_filters
from kirem.dashboard.nav import project_url
from kirem.dashboard.web import redirect, render
from kirem.delivery import deliveries as service
from kirem.delivery.deliveries import DELIVERY_STATUSES, DeliveryFilter, parse_filter
from kirem.kit.params import Window
from kirem.routing.conditions import EVENT_TYPES
from kirem.routing.targets import list_targets
from kirem.signals import DELIVERIES

router = APIRouter()

STAFF = require_role("owner", "developer")
BODY_EXCERPT = 2000
"""Characters of a consumer's answer shown in the attempt detail (the log keeps up to 20 KB)."""
FILTERS = ("status", "target_id", "event", "since", "until")
BulkAct = Callable[[AsyncSession, str, int, DeliveryFilter, Window], Awaitable[int]]
"""Counting or replaying the deliveries a selection picks (``count_bulk_replay``, ``bulk_replay``)."""


async def _on_selection(access: ProjectAccess, filters: dict[str, str], act: BulkAct) -> int | None:
    """``act`` (count or replay) on the deliveries the filters select within the plan's retention;
    None when a filter is refused."""
    errors: dict[str, str] = {}
    window = filter_window(filters, errors)
    flt = parse_filter(dict(filters), errors)
    if errors:
        return None
    return await act(access.session, access.project.id, access.tenant.limits.retention_days, flt, window)


def _list_url(project_id: str, filters: dict[str, str], page: int | None = None) -> str:
    query = dict(filters)
    if page is not None and page > 1:
        query["page"] = str(page)
    base = project_url(project_id, "deliveries")
    return f"{base}?{urlencode(query)}" if query else base


@router.get("/dashboard/p/{project_id}/deliveries")
async def deliveries_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    params = request.query_params
    shown = listing(params, FILTERS)
    filters = shown.filters
    flt = parse_filter(dict(filters), shown.errors)
    data: dict[str, Any] = {"total": 0, "deliveries": []}
    if not shown.errors:
        data = await service.list_deliveries(access.session, access.project.id, flt, shown.window)
    target_rows = await list_targets(access.session, access.project.id)
    context = {
        **shown.context(
            data["deliveries"], data["total"], lambda number: _list_url(access.project.id, filters, number)
        ),
        "replay_url": f"{project_url(access.project.id, 'deliveries')}/replay?{urlencode(filters)}",
        "statuses": DELIVERY_STATUSES,
        "event_types": EVENT_TYPES,
        "targets": [(t.id, t.url) for t in target_rows],
        "notice": params.get("notice"),
        "count": params.get("count"),
    }
    return render(request, "hooks/deliveries.html", context)


@router.get("/dashboard/p/{project_id}/deliveries/replay")
async def confirm_bulk_replay(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    filters = present_filters(request.query_params, FILTERS)
    count = await _on_selection(access, filters, service.count_bulk_replay)
    if count is None:
        return redirect(_list_url(access.project.id, filters))
    context = {
        "filters": filters,
        "count": count,
        "retention_days": access.tenant.limits.retention_days,
        "limit": service.MAX_BULK_REPLAY,
        "back_url": _list_url(access.project.id, filters),
    }
    return render(request, "hooks/replay_confirm.html", context)


@router.post("/dashboard/p/{project_id}/deliveries/replay", dependencies=[Depends(check_csrf)])
async def bulk_replay(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    filters = present_filters(await request.form(), FILTERS)
    count = await _on_selection(access, filters, service.bulk_replay)
    if count is None:
        return redirect(_list_url(access.project.id, filters))
    await access.session.commit()
    access.ctx.signals.wake(DELIVERIES)
    return redirect(f"{_list_url(access.project.id, {**filters, 'notice': 'replayed', 'count': str(count)})}")


async def _delivery(access: ProjectAccess, delivery_id: str) -> dict[str, Any]:
    try:
        return await service.get_delivery(access.session, access.project.id, delivery_id)
    except ApiError as exc:
        if exc.status == 404:
            raise PageNotFound() from exc
        raise


def _delivery_page(
    request: Request, delivery: dict[str, Any], *, refusal: str | None = None, status_code: int = 200
) -> Response:
    attempts = [
        {
            **attempt,
            "excerpt": attempt["response_body"][:BODY_EXCERPT],
            "truncated": len(attempt["response_body"]) > BODY_EXCERPT,
        }
        for attempt in reversed(delivery["attempt_log"])
    ]
    context = {
        "delivery": delivery,
        "attempts": attempts,
        "notice": request.query_params.get("notice"),
        "count": request.query_params.get("count"),
        "refusal": refusal,
    }
    return render(request, "hooks/delivery.html", context, status_code)


@router.get("/dashboard/p/{project_id}/deliveries/{delivery_id}")
async def delivery_page(
    request: Request, delivery_id: str, access: ProjectAccess = Depends(STAFF)
) -> Response:
    return _delivery_page(request, await _delivery(access, delivery_id))


@router.post("/dashboard/p/{project_id}/deliveries/{delivery_id}/replay", dependencies=[Depends(check_csrf)])
async def replay_delivery(
    request: Request, delivery_id: str, access: ProjectAccess = Depends(STAFF)
) -> Response:
    delivery = await _delivery(access, delivery_id)
    try:
        count = await service.replay_delivery(access.session, access.project.id, delivery_id)
    except ApiError as exc:
        return _delivery_page(request, delivery, refusal=exc.message, status_code=exc.status)
    await access.session.commit()
    access.ctx.signals.wake(DELIVERIES)
    base = project_url(access.project.id, "deliveries")
    return redirect(f"{base}/{delivery_id}?notice=replayed&count={count}")


@router.post(
    "/dashboard/p/{project_id}/deliveries/{delivery_id}/replay-event", dependencies=[Depends(check_csrf)]
)
async def replay_event(
    request: Request, delivery_id: str, access: ProjectAccess = Depends(STAFF)
) -> Response:
    delivery = await _delivery(access, delivery_id)
    count = await service.replay_event_by_id(access.session, access.project.id, delivery["event_id"])
    await access.session.commit()
    access.ctx.signals.wake(DELIVERIES)
    base = project_url(access.project.id, "deliveries")
    return redirect(f"{base}/{delivery_id}?notice=event_replayed&count={count}")
