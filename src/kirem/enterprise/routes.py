"""Management API of the enterprise features: a project's dedicated MCP endpoint and SLA policy."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.body import read_json_object
from kirem.api.deps import get_account, get_context, get_session
from kirem.api.responses import ok
from kirem.api.schemas import Envelope, request_body, responses
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.enterprise.mcp_endpoints import endpoint_view, project_endpoint, set_endpoint
from kirem.enterprise.models import SlaPolicy
from kirem.enterprise.schemas import McpEndpointBody, McpEndpointView, SlaPolicyBody, SlaPolicyView
from kirem.enterprise.sla import parse_policy, policy_view
from kirem.kit.errors import not_found
from kirem.tenancy import service
from kirem.tenancy.limits import plan_error
from kirem.tenancy.models import Account

router = APIRouter(
    prefix="/v1/manage/projects/{project_id}", tags=["management"], responses=responses(401, 404)
)
BODY_ERRORS = (400, 413, 415)


@router.get(
    "/mcp-endpoint",
    summary="The project's dedicated MCP endpoint",
    response_model=Envelope[McpEndpointView],
)
async def get_mcp_endpoint(
    project_id: str,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    endpoint = await project_endpoint(session, project)
    return ok(endpoint_view(endpoint, ctx.settings.base_url), "MCP endpoint retrieved successfully")


@router.put(
    "/mcp-endpoint",
    summary="Create or change the dedicated MCP endpoint (enterprise plan)",
    response_model=Envelope[McpEndpointView],
    responses=responses(*BODY_ERRORS, 403, 409),
    openapi_extra=request_body(McpEndpointBody, {"slug": "toko-melati", "rate_limit_per_second": 20}),
)
async def put_mcp_endpoint(
    project_id: str,
    request: Request,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    body = await read_json_object(request)
    endpoint = await set_endpoint(session, account, service.account_limits(account), project, body)
    await session.commit()
    return ok(endpoint_view(endpoint, ctx.settings.base_url), "MCP endpoint saved successfully")


@router.delete(
    "/mcp-endpoint",
    summary="Remove the dedicated MCP endpoint (its keys stay, unusable)",
    response_model=Envelope[McpEndpointView],
)
async def delete_mcp_endpoint(
    project_id: str,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    endpoint = await project_endpoint(session, project)
    view = endpoint_view(endpoint, ctx.settings.base_url)
    await session.delete(endpoint)
    await session.commit()
    return ok(view, "MCP endpoint removed successfully")


async def _policy(session: AsyncSession, project_id: str) -> SlaPolicy:
    policy = await session.get(SlaPolicy, project_id)
    if policy is None:
        raise not_found("SLA policy")
    return policy


@router.get(
    "/sla",
    summary="The project's SLA thresholds and their last evaluation",
    response_model=Envelope[SlaPolicyView],
)
async def get_sla(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    project = await service.account_project(session, account, project_id)
    return ok(policy_view(await _policy(session, project.id)), "SLA policy retrieved successfully")


@router.put(
    "/sla",
    summary="Set the SLA thresholds (enterprise plan)",
    response_model=Envelope[SlaPolicyView],
    responses=responses(*BODY_ERRORS, 403),
    openapi_extra=request_body(
        SlaPolicyBody, {"window_seconds": 3600, "min_success_rate": 0.99, "max_p95_latency_ms": 5000}
    ),
)
async def put_sla(
    project_id: str,
    request: Request,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    values = parse_policy(await read_json_object(request))
    if not service.account_limits(account).sla_thresholds:
        raise plan_error("sla_thresholds", f"Custom SLA thresholds are not part of the {account.plan} plan.")
    policy = await session.get(SlaPolicy, project.id)
    if policy is None:
        policy = SlaPolicy(project_id=project.id, state="ok", **values)
        session.add(policy)
    else:
        for field, value in values.items():
            setattr(policy, field, value)
    policy.next_evaluation_at = utcnow()  # judged against the new thresholds at the next round
    await session.commit()
    return ok(policy_view(policy), "SLA policy saved successfully")


@router.delete("/sla", summary="Remove the SLA thresholds", response_model=Envelope[SlaPolicyView])
async def delete_sla(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    project = await service.account_project(session, account, project_id)
    policy = await _policy(session, project.id)
    view = policy_view(policy)
    await session.delete(policy)
    await session.commit()
    return ok(view, "SLA policy removed successfully")
