"""Management API of the enterprise features: a project's dedicated MCP endpoint and SLA policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from kirem.api.answers import deleted
from kirem.api.body import read_json_object
from kirem.api.deps import AccountDep, AccountProjectDep, ContextDep, SessionDep
from kirem.api.responses import ok
from kirem.api.route_docs import documented
from kirem.api.routers import management_router
from kirem.api.schemas import request_body
from kirem.db.base import utcnow
from kirem.enterprise.mcp_endpoints import endpoint_view, project_endpoint, set_endpoint
from kirem.enterprise.models import SlaPolicy
from kirem.enterprise.schemas import McpEndpointBody, McpEndpointView, SlaPolicyBody, SlaPolicyView
from kirem.enterprise.sla import parse_policy, policy_view
from kirem.kit.errors import not_found
from kirem.tenancy import service
from kirem.tenancy.limits import plan_error

router = management_router("/projects/{project_id}", 404)


@router.get("/mcp-endpoint", **documented("The project's dedicated MCP endpoint", McpEndpointView))
async def get_mcp_endpoint(project: AccountProjectDep, ctx: ContextDep, session: SessionDep) -> Response:
    endpoint = await project_endpoint(session, project)
    return ok(endpoint_view(endpoint, ctx.settings.base_url), "MCP endpoint retrieved successfully")


@router.put(
    "/mcp-endpoint",
    **documented(
        "Create or change the dedicated MCP endpoint (enterprise plan)",
        McpEndpointView,
        403,
        409,
        body=request_body(McpEndpointBody, {"slug": "toko-melati", "rate_limit_per_second": 20}),
    ),
)
async def put_mcp_endpoint(
    project: AccountProjectDep, request: Request, account: AccountDep, ctx: ContextDep, session: SessionDep
) -> Response:
    body = await read_json_object(request)
    endpoint = await set_endpoint(session, account, service.account_limits(account), project, body)
    await session.commit()
    return ok(endpoint_view(endpoint, ctx.settings.base_url), "MCP endpoint saved successfully")


@router.delete(
    "/mcp-endpoint",
    **documented("Remove the dedicated MCP endpoint (its keys stay, unusable)", McpEndpointView),
)
async def delete_mcp_endpoint(project: AccountProjectDep, ctx: ContextDep, session: SessionDep) -> Response:
    endpoint = await project_endpoint(session, project)
    view = endpoint_view(endpoint, ctx.settings.base_url)
    return await deleted(session, endpoint, view, "MCP endpoint removed successfully")


async def _policy(project: AccountProjectDep, session: SessionDep) -> SlaPolicy:
    """The project's SLA policy (404 while it has none)."""
    policy = await session.get(SlaPolicy, project.id)
    if policy is None:
        raise not_found("SLA policy")
    return policy


PolicyDep = Annotated[SlaPolicy, Depends(_policy)]


@router.get("/sla", **documented("The project's SLA thresholds and their last evaluation", SlaPolicyView))
async def get_sla(policy: PolicyDep) -> Response:
    return ok(policy_view(policy), "SLA policy retrieved successfully")


@router.put(
    "/sla",
    **documented(
        "Set the SLA thresholds (enterprise plan)",
        SlaPolicyView,
        403,
        body=request_body(
            SlaPolicyBody, {"window_seconds": 3600, "min_success_rate": 0.99, "max_p95_latency_ms": 5000}
        ),
    ),
)
async def put_sla(
    project: AccountProjectDep, request: Request, account: AccountDep, session: SessionDep
) -> Response:
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


@router.delete("/sla", **documented("Remove the SLA thresholds", SlaPolicyView))
async def delete_sla(policy: PolicyDep, session: SessionDep) -> Response:
    return await deleted(session, policy, policy_view(policy), "SLA policy removed successfully")
