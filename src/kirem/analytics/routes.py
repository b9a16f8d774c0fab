"""``/v1/analytics/*``: the logs of a project, for plans that include the analytics API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from kirem.analytics.messages import DIRECTIONS, STATUSES, check_analytics, query_message_logs
from kirem.analytics.schemas import MESSAGE_LOGS_EXAMPLE, MessageLogPage
from kirem.api.deps import SessionDep, TenantDep
from kirem.api.listing import WindowDep, listed
from kirem.api.responses import ok
from kirem.api.schemas import (
    AUTHENTICATED,
    BOOLEAN,
    Envelope,
    answer,
    one_of,
    responses,
    typed_query,
)
from kirem.delivery.deliveries import attempt_logs
from kirem.delivery.schemas import AttemptPage
from kirem.kit.params import parse_bool, raise_if
from kirem.routing.conditions import EVENT_TYPES
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])

ERRORS = responses(
    400, *AUTHENTICATED, r403="The plan does not include the analytics API, or the key is refused"
)
WEBHOOK_LOG = {
    "id": "att_1f2e3d4c5b6a7f8e9d0c1b2a",
    "delivery_id": "dlv_0a1b2c3d4e5f6a7b8c9d0e1f",
    "event_id": "evt_7e6d5c4b3a2f1e0d9c8b7a6f",
    "event": "messages.received",
    "target_id": "tgt_3f9a0c1e5b7d9f2a4c6e8b0d",
    "url": "https://example.com/hooks/whatsapp",
    "status_code": 503,
    "duration_ms": 41,
    "is_success": False,
    "attempt": 1,
    "error": "HTTP 503",
    "response_body": "upstream down",
    "created_at": "2026-06-26T00:20:00Z",
}


def require_analytics(tenant: TenantDep) -> Tenant:
    return check_analytics(tenant)


AnalyticsTenant = Annotated[Tenant, Depends(require_analytics)]
"""The calling key's project, once its plan is known to include the analytics API."""


@router.get(
    "/messages",
    summary="Message logs, filtered and paginated",
    response_model=Envelope[MessageLogPage],
    responses={**answer(200, MESSAGE_LOGS_EXAMPLE), **ERRORS},
)
async def message_logs(
    session: SessionDep,
    tenant: AnalyticsTenant,
    query: WindowDep,
    status: str | None = typed_query(one_of(STATUSES), "Only messages in this status"),
    direction: str | None = typed_query(one_of(DIRECTIONS), "inbound or outbound"),
    recipient: str | None = Query(None, description="The customer's number"),
    type: str | None = Query(None, description="The message type: text, template, image, …"),
) -> Response:
    errors = query.errors
    if status and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    if direction and direction not in DIRECTIONS:
        errors["direction"] = "must be 'inbound' or 'outbound'"
    raise_if(errors)
    filters = {"status": status, "direction": direction, "recipient": recipient, "type": type}
    data = await query_message_logs(session, tenant.project_id, query.window, filters)
    return ok(data, "Message logs retrieved successfully")


@router.get(
    "/webhooks",
    summary="Webhook delivery attempts, filtered and paginated",
    **listed(
        AttemptPage, "Webhook logs retrieved successfully", "logs", WEBHOOK_LOG, limit=10, errors=ERRORS
    ),
)
async def webhook_logs(
    session: SessionDep,
    tenant: AnalyticsTenant,
    query: WindowDep,
    is_success: str | None = typed_query(BOOLEAN, "Only successful (true) or failed (false) attempts"),
    event: str | None = typed_query(one_of(EVENT_TYPES), "Only attempts of this event type"),
    target_id: str | None = Query(None, description="Only attempts to this target"),
) -> Response:
    errors = query.errors
    success = parse_bool("is_success", is_success, errors)
    if event and event not in EVENT_TYPES:
        errors["event"] = f"must be one of {', '.join(EVENT_TYPES)}"
    raise_if(errors)
    data = await attempt_logs(
        session, tenant.project_id, query.window, is_success=success, event=event, target_id=target_id
    )
    return ok(data, "Webhook logs retrieved successfully")
