"""Delivery log pages: the filtered list, one delivery with its attempts, and replay (one delivery,
its event, or in bulk by filter after a confirmation that states the count)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kirem.api.responses import ApiError
from kirem.dashboard.auth import PageNotFound, ProjectAccess, check_csrf, require_role
from kirem.dashboard.nav import project_url
from kirem.dashboard.web import redirect, render
from kirem.delivery import deliveries as service
from kirem.delivery.deliveries import DELIVERY_STATUSES, DeliveryFilter, parse_filter
from kirem.kit.params import Window, parse_int, parse_window
from kirem.routing.conditions import EVENT_TYPES
from kirem.routing.targets import list_targets
from kirem.signals import DELIVERIES

router = APIRouter()

STAFF = require_role("owner", "developer")
PAGE_SIZE = 50
MAX_PAGE = 100_000
BODY_EXCERPT = 2000
"""Characters of a consumer's answer shown in the attempt detail (the log keeps up to 20 KB)."""
FILTERS = ("status", "target_id", "event", "since", "until")


def _filters(source: Any) -> dict[str, str]:
    """The list's filters present in a query string or a form, as text."""
    return {name: value for name in FILTERS if isinstance(value := source.get(name), str) and value.strip()}


def _parse(filters: dict[str, str], errors: dict[str, str]) -> tuple[DeliveryFilter, Window]:
    window = parse_window(filters.get("since"), filters.get("until"), str(PAGE_SIZE), None, errors)
    return parse_filter(dict(filters), errors), window


def _list_url(project_id: str, filters: dict[str, str], page: int | None = None) -> str:
    query = dict(filters)
    if page is not None and page > 1:
        query["page"] = str(page)
    base = project_url(project_id, "deliveries")
    return f"{base}?{urlencode(query)}" if query else base


@router.get("/dashboard/p/{project_id}/deliveries")
async def deliveries_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    params = request.query_params
    filters = _filters(params)
    errors: dict[str, str] = {}
    page = parse_int("page", params.get("page"), 1, 1, MAX_PAGE, errors)
    flt, window = _parse(filters, errors)
    data: dict[str, Any] = {"total": 0, "deliveries": []}
    if not errors:
        paged = Window(window.since, window.until, PAGE_SIZE, (page - 1) * PAGE_SIZE)
        data = await service.list_deliveries(access.session, access.project.id, flt, paged)
    target_rows = await list_targets(access.session, access.project.id)
    context = {
        "filters": filters,
        "errors": errors,
        "rows": data["deliveries"],
        "total": data["total"],
        "page": page,
        "has_next": page * PAGE_SIZE < data["total"],
        "page_url": lambda number: _list_url(access.project.id, filters, number),
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
    filters = _filters(request.query_params)
    errors: dict[str, str] = {}
    flt, window = _parse(filters, errors)
    if errors:
        return redirect(_list_url(access.project.id, filters))
    retention = access.tenant.limits.retention_days
    count = await service.count_bulk_replay(access.session, access.project.id, retention, flt, window)
    context = {
        "filters": filters,
        "count": count,
        "retention_days": retention,
        "limit": service.MAX_BULK_REPLAY,
        "back_url": _list_url(access.project.id, filters),
    }
    return render(request, "hooks/replay_confirm.html", context)


@router.post("/dashboard/p/{project_id}/deliveries/replay", dependencies=[Depends(check_csrf)])
async def bulk_replay(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    filters = _filters(await request.form())
    errors: dict[str, str] = {}
    flt, window = _parse(filters, errors)
    if errors:
        return redirect(_list_url(access.project.id, filters))
    retention = access.tenant.limits.retention_days
    count = await service.bulk_replay(access.session, access.project.id, retention, flt, window)
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
