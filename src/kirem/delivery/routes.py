"""Deliveries, events and replay over the public API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Query, Response

from kirem.api.body import read_json_object
from kirem.api.calls import Call, CallDep
from kirem.api.deps import SessionDep, TenantDep
from kirem.api.listing import WindowDep, listed
from kirem.api.responses import ok
from kirem.api.route_docs import answers
from kirem.api.schemas import (
    AUTHENTICATED,
    BOOLEAN,
    IDEMPOTENT,
    TIMESTAMP,
    Envelope,
    answer,
    idempotency,
    one_of,
    operation,
    request_body,
    responses,
    typed_query,
    wrapped,
)
from kirem.delivery import deliveries as service
from kirem.delivery.deliveries import DELIVERY_STATUSES, parse_filter
from kirem.delivery.schemas import BulkReplay, DeliveryDetail, DeliveryPage, EventDetail, EventPage, Queued
from kirem.kit.params import parse_window, raise_if
from kirem.routing.conditions import EVENT_TYPES
from kirem.signals import DELIVERIES

router = APIRouter(prefix="/v1", tags=["deliveries"])

DELIVERY = {
    "id": "dlv_0a1b2c3d4e5f6a7b8c9d0e1f",
    "event_id": "evt_7e6d5c4b3a2f1e0d9c8b7a6f",
    "event": "messages.received",
    "target_id": "tgt_3f9a0c1e5b7d9f2a4c6e8b0d",
    "url": "https://example.com/hooks/whatsapp",
    "status": "succeeded",
    "attempts": 2,
    "next_attempt_at": None,
    "last_status_code": 200,
    "last_error": None,
    "created_at": "2026-11-29T10:00:00Z",
    "completed_at": "2026-11-29T10:00:05Z",
}
ATTEMPT = {
    "id": "att_1f2e3d4c5b6a7f8e9d0c1b2a",
    "delivery_id": "dlv_0a1b2c3d4e5f6a7b8c9d0e1f",
    "event_id": "evt_7e6d5c4b3a2f1e0d9c8b7a6f",
    "event": "messages.received",
    "target_id": "tgt_3f9a0c1e5b7d9f2a4c6e8b0d",
    "url": "https://example.com/hooks/whatsapp",
    "status_code": 500,
    "duration_ms": 35,
    "is_success": False,
    "attempt": 1,
    "error": "HTTP 500",
    "response_body": "oops",
    "created_at": "2026-11-29T10:00:00Z",
}
EVENT = {
    "id": "evt_7e6d5c4b3a2f1e0d9c8b7a6f",
    "event": "messages.received",
    "channel_id": "chan_5b1e2d3c4a5f6e7d8c9b0a1f",
    "created_at": "2026-11-29T10:00:00Z",
    "error": None,
    "data": {"from": "62812345678", "type": "text", "text": {"body": "Halo"}},
}
EVENT_TYPE = typed_query(one_of(EVENT_TYPES), "Only events of this type")
BULK_FILTERS: dict[str, dict[str, Any]] = {
    "status": one_of(DELIVERY_STATUSES),
    "is_success": BOOLEAN,
    "target_id": {"type": "string"},
    "event": one_of(EVENT_TYPES),
    "since": TIMESTAMP,
    "until": TIMESTAMP,
}
"""The filters of a bulk replay, each with the schema it is published with."""
QUEUED = {
    **answer(202, wrapped("1 delivery queued", {"queued": 1}, 202)),
    **responses(*AUTHENTICATED, 404, *IDEMPOTENT),
}


def _as_param(value: object) -> str | None:
    """A JSON filter value in the query-string form the parsers read (``true``, ``2026-01-01``)."""
    if value is None:
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


@router.get(
    "/webhooks/deliveries",
    summary="Deliveries (one per event and target), newest first",
    **listed(DeliveryPage, "Deliveries retrieved successfully", "deliveries", DELIVERY),
)
async def list_deliveries(
    session: SessionDep,
    tenant: TenantDep,
    query: WindowDep,
    status: str | None = typed_query(one_of(DELIVERY_STATUSES), "Only deliveries in this status"),
    is_success: str | None = typed_query(BOOLEAN, "true: succeeded; false: failed at least once"),
    target_id: str | None = Query(None, description="Only deliveries to this target"),
    event: str | None = EVENT_TYPE,
    event_id: str | None = Query(None, description="Only deliveries of this event"),
) -> Response:
    filters = {"status": status, "is_success": is_success, "target_id": target_id, "event": event}
    flt = parse_filter({**filters, "event_id": event_id}, query.errors)
    raise_if(query.errors)
    data = await service.list_deliveries(session, tenant.project_id, flt, query.window)
    return ok(data, "Deliveries retrieved successfully")


@router.get(
    "/webhooks/deliveries/{delivery_id}",
    summary="One delivery with every attempt",
    **answers(
        DeliveryDetail,
        "Delivery retrieved successfully",
        {
            **DELIVERY,
            "attempt_log": [ATTEMPT, {**ATTEMPT, "status_code": 200, "is_success": True, "attempt": 2}],
        },
        responses(*AUTHENTICATED, 404),
    ),
)
async def get_delivery(delivery_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    return ok(
        await service.get_delivery(session, tenant.project_id, delivery_id), "Delivery retrieved successfully"
    )


def queues(answers: dict[int | str, dict[str, Any]], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The decorator keywords of a replay: 202 with the count queued, under an ``Idempotency-Key``
    (``extra``: the route's whole ``openapi_extra``)."""
    return {
        "status_code": 202,
        "response_model": Envelope[Queued],
        "responses": answers,
        "openapi_extra": extra or idempotency(),
    }


async def _replay(call: Call, queue: Callable[[], Awaitable[int]]) -> Response:
    """Queue deliveries once per ``Idempotency-Key``, commit them and wake the sender."""

    async def execute() -> Response:
        count = await queue()
        await call.session.commit()
        call.ctx.signals.wake(DELIVERIES)
        return ok({"queued": count}, f"{count} deliver{'y' if count == 1 else 'ies'} queued", 202)

    return await call.once(execute)


@router.post(
    "/webhooks/deliveries/{delivery_id}/replay",
    summary="Send one delivery again",
    **queues({**QUEUED, **responses(409, r409="The delivery's target is disabled")}),
)
async def replay_delivery(delivery_id: str, call: CallDep) -> Response:
    return await _replay(
        call, lambda: service.replay_delivery(call.session, call.tenant.project_id, delivery_id)
    )


@router.post(
    "/events/{event_id}/replay",
    summary="Send an event again to every target it should reach now",
    **queues(QUEUED),
)
async def replay_event(event_id: str, call: CallDep) -> Response:
    return await _replay(
        call, lambda: service.replay_event_by_id(call.session, call.tenant.project_id, event_id)
    )


@router.post(
    "/webhooks/replay",
    summary="Replay many deliveries by filter (within the plan's retention)",
    **queues(
        {
            **answer(202, wrapped("12 deliveries queued", {"queued": 12}, 202)),
            **responses(400, 413, 415, *AUTHENTICATED, *IDEMPOTENT),
        },
        operation(
            request_body(
                BulkReplay,
                {"is_success": False, "since": "2026-11-28"},
                required=False,
                description="The filters, here or in the query string (the body wins)",
            ),
            idempotency(),
            {
                "parameters": [
                    {"name": name, "in": "query", "required": False, "schema": schema}
                    for name, schema in BULK_FILTERS.items()
                ]
            },
        ),
    ),
)
async def bulk_replay(call: CallDep) -> Response:
    async def queue() -> int:
        request = call.request
        body = await read_json_object(request) if await request.body() else {}
        params = {**dict(request.query_params), **{k: _as_param(v) for k, v in body.items()}}
        errors: dict[str, str] = {}
        unknown = set(params) - set(BULK_FILTERS)
        for name in sorted(unknown):
            errors[name] = "unknown filter"
        window = parse_window(params.get("since"), params.get("until"), None, None, errors)
        flt = parse_filter(params, errors)
        raise_if(errors)
        tenant = call.tenant
        return await service.bulk_replay(
            call.session, tenant.project_id, tenant.limits.retention_days, flt, window
        )

    return await _replay(call, queue)


@router.get(
    "/events",
    summary="Events of the project, newest first",
    **listed(EventPage, "Events retrieved successfully", "events", EVENT),
)
async def list_events(
    session: SessionDep, tenant: TenantDep, query: WindowDep, event: str | None = EVENT_TYPE
) -> Response:
    if event and event not in EVENT_TYPES:
        query.errors["event"] = f"must be one of {', '.join(EVENT_TYPES)}"
    raise_if(query.errors)
    return ok(
        await service.list_events(session, tenant.project_id, event, query.window),
        "Events retrieved successfully",
    )


@router.get(
    "/events/{event_id}",
    summary="One event with its deliveries",
    **answers(
        EventDetail,
        "Event retrieved successfully",
        {**EVENT, "deliveries": [DELIVERY]},
        responses(*AUTHENTICATED, 404),
    ),
)
async def get_event(event_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    return ok(await service.get_event(session, tenant.project_id, event_id), "Event retrieved successfully")
