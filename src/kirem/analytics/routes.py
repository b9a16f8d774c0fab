"""``/v1/analytics/*``: the logs of a project, for plans that include the analytics API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.analytics.messages import DIRECTIONS, STATUSES, check_analytics, query_message_logs
from kirem.api.deps import get_session, get_tenant
from kirem.api.responses import ok
from kirem.delivery.deliveries import attempt_logs
from kirem.kit.params import parse_bool, parse_window, raise_if
from kirem.routing.conditions import EVENT_TYPES
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


def require_analytics(tenant: Tenant = Depends(get_tenant)) -> Tenant:
    return check_analytics(tenant)


@router.get("/messages", summary="Message logs, filtered and paginated")
async def message_logs(
    status: str | None = Query(None),
    direction: str | None = Query(None),
    recipient: str | None = Query(None),
    type: str | None = Query(None),
    since: str | None = Query(None),
    until: str | None = Query(None),
    limit: str | None = Query(None),
    offset: str | None = Query(None),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(require_analytics),
) -> Response:
    errors: dict[str, str] = {}
    window = parse_window(since, until, limit, offset, errors)
    if status and status not in STATUSES:
        errors["status"] = f"must be one of {', '.join(STATUSES)}"
    if direction and direction not in DIRECTIONS:
        errors["direction"] = "must be 'inbound' or 'outbound'"
    raise_if(errors)
    filters = {"status": status, "direction": direction, "recipient": recipient, "type": type}
    data = await query_message_logs(session, tenant.project_id, window, filters)
    return ok(data, "Message logs retrieved successfully")


@router.get("/webhooks", summary="Webhook delivery attempts, filtered and paginated")
async def webhook_logs(
    is_success: str | None = Query(None),
    event: str | None = Query(None),
    target_id: str | None = Query(None),
    since: str | None = Query(None),
    until: str | None = Query(None),
    limit: str | None = Query(None),
    offset: str | None = Query(None),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(require_analytics),
) -> Response:
    errors: dict[str, str] = {}
    window = parse_window(since, until, limit, offset, errors)
    success = parse_bool("is_success", is_success, errors)
    if event and event not in EVENT_TYPES:
        errors["event"] = f"must be one of {', '.join(EVENT_TYPES)}"
    raise_if(errors)
    data = await attempt_logs(
        session, tenant.project_id, window, is_success=success, event=event, target_id=target_id
    )
    return ok(data, "Webhook logs retrieved successfully")
