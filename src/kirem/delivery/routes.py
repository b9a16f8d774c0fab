"""Deliveries, events and replay over the public API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.body import read_json_object
from kirem.api.deps import get_context, get_session, get_tenant
from kirem.api.idempotency import idempotent
from kirem.api.responses import ok
from kirem.context import AppContext
from kirem.delivery import deliveries as service
from kirem.delivery.deliveries import parse_filter
from kirem.kit.params import parse_window, raise_if
from kirem.routing.conditions import EVENT_TYPES
from kirem.signals import DELIVERIES
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1", tags=["deliveries"])


def _as_param(value: object) -> str | None:
    """A JSON filter value in the query-string form the parsers read (``true``, ``2026-01-01``)."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


@router.get("/webhooks/deliveries", summary="Deliveries (one per event and target), newest first")
async def list_deliveries(
    request: Request, session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    q = request.query_params
    errors: dict[str, str] = {}
    window = parse_window(q.get("since"), q.get("until"), q.get("limit"), q.get("offset"), errors)
    flt = parse_filter(dict(q), errors)
    raise_if(errors)
    data = await service.list_deliveries(session, tenant.project_id, flt, window)
    return ok(data, "Deliveries retrieved successfully")


@router.get("/webhooks/deliveries/{delivery_id}", summary="One delivery with every attempt")
async def get_delivery(
    delivery_id: str, session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    return ok(
        await service.get_delivery(session, tenant.project_id, delivery_id), "Delivery retrieved successfully"
    )


async def _queued(ctx: AppContext, session: AsyncSession, count: int) -> Response:
    await session.commit()
    ctx.signals.wake(DELIVERIES)
    return ok({"queued": count}, f"{count} deliver{'y' if count == 1 else 'ies'} queued", 202)


@router.post("/webhooks/deliveries/{delivery_id}/replay", summary="Send one delivery again")
async def replay_delivery(
    delivery_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        return await _queued(
            ctx, session, await service.replay_delivery(session, tenant.project_id, delivery_id)
        )

    return await idempotent(request, ctx, tenant, execute)


@router.post("/events/{event_id}/replay", summary="Send an event again to every target it should reach now")
async def replay_event(
    event_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        return await _queued(
            ctx, session, await service.replay_event_by_id(session, tenant.project_id, event_id)
        )

    return await idempotent(request, ctx, tenant, execute)


@router.post("/webhooks/replay", summary="Replay many deliveries by filter (within the plan's retention)")
async def bulk_replay(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request) if await request.body() else {}
        params = {**dict(request.query_params), **{k: _as_param(v) for k, v in body.items()}}
        errors: dict[str, str] = {}
        unknown = set(params) - {"status", "is_success", "target_id", "event", "since", "until"}
        for name in sorted(unknown):
            errors[name] = "unknown filter"
        window = parse_window(params.get("since"), params.get("until"), None, None, errors)
        flt = parse_filter(params, errors)
        raise_if(errors)
        return await _queued(
            ctx,
            session,
            await service.bulk_replay(session, tenant.project_id, tenant.limits.retention_days, flt, window),
        )

    return await idempotent(request, ctx, tenant, execute)


@router.get("/events", summary="Events of the project, newest first")
async def list_events(
    event: str | None = Query(None),
    since: str | None = Query(None),
    until: str | None = Query(None),
    limit: str | None = Query(None),
    offset: str | None = Query(None),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    errors: dict[str, str] = {}
    window = parse_window(since, until, limit, offset, errors)
    if event and event not in EVENT_TYPES:
        errors["event"] = f"must be one of {', '.join(EVENT_TYPES)}"
    raise_if(errors)
    return ok(
        await service.list_events(session, tenant.project_id, event, window), "Events retrieved successfully"
    )


@router.get("/events/{event_id}", summary="One event with its deliveries")
async def get_event(
    event_id: str, session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    return ok(await service.get_event(session, tenant.project_id, event_id), "Event retrieved successfully")
