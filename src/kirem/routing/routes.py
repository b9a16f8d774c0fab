"""Public API for webhook routing: targets, rules, the rule tester and secret rotation (project key)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.body import read_json_object
from kirem.api.deps import get_context, get_session, get_tenant
from kirem.api.idempotency import idempotent
from kirem.api.responses import ok
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.delivery.secret import rotate_webhook_secret
from kirem.delivery.target_probe import send_test_event
from kirem.kit.params import iso
from kirem.routing import rules, targets
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

DELETED = {"success": True}


def _production(ctx: AppContext) -> bool:
    return ctx.settings.env == "production"


# Targets -------------------------------------------------------------------------------------


@router.post("/targets", summary="Create a webhook target")
async def create_target(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        target = await targets.create_target(
            session, tenant, body, sealer=ctx.sealer, production=_production(ctx)
        )
        await session.commit()
        return ok(targets.target_view(ctx.sealer, target), "Webhook target created successfully", 201)

    return await idempotent(request, ctx, tenant, execute)


@router.get("/targets", summary="List webhook targets")
async def list_targets(
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    rows = await targets.list_targets(session, tenant.project_id)
    return ok([targets.target_view(ctx.sealer, t) for t in rows], "Webhook targets retrieved successfully")


@router.get("/targets/{target_id}", summary="Get a webhook target")
async def get_target(
    target_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    target = await targets.get_target(session, tenant.project_id, target_id)
    return ok(targets.target_view(ctx.sealer, target), "Webhook target retrieved successfully")


@router.patch("/targets/{target_id}", summary="Change a webhook target (enabled: true re-enables it)")
async def update_target(
    target_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    body = await read_json_object(request)
    target = await targets.update_target(
        session, tenant, target_id, body, sealer=ctx.sealer, production=_production(ctx)
    )
    await session.commit()
    return ok(targets.target_view(ctx.sealer, target), "Webhook target updated successfully")


@router.post(
    "/targets/{target_id}/test",
    summary="Send a signed sample event (webhooks.test) now; answer the consumer's status, latency and body",
)
async def test_target(
    target_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    result = await send_test_event(ctx, session, tenant, target_id)
    message = "Test event delivered" if result["success"] else "Test event not delivered"
    return ok(result, message)


@router.delete(
    "/targets/{target_id}",
    summary="Delete a webhook target (also from every rule; a rule left without targets matches nothing)",
)
async def delete_target(
    target_id: str, session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    await targets.delete_target(session, tenant, target_id)
    await session.commit()
    return ok(DELETED, "Webhook target deleted successfully")


# Rules ---------------------------------------------------------------------------------------


@router.post("/rules", summary="Create a routing rule")
async def create_rule(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        rule = await rules.create_rule(session, tenant, body)
        await session.commit()
        return ok(rules.rule_view(rule), "Routing rule created successfully", 201)

    return await idempotent(request, ctx, tenant, execute)


@router.get("/rules", summary="List routing rules")
async def list_rules(
    session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    rows = await rules.list_rules(session, tenant.project_id)
    return ok([rules.rule_view(r) for r in rows], "Routing rules retrieved successfully")


@router.post("/rules/test", summary="Which targets would receive an event, and why (sends nothing)")
async def try_rules(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        answer = await rules.run_rule_test(session, tenant, body)
        return ok(answer, "Routing test completed successfully")

    return await idempotent(request, ctx, tenant, execute)


@router.get("/rules/{rule_id}", summary="Get a routing rule")
async def get_rule(
    rule_id: str, session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    rule = await rules.get_rule(session, tenant.project_id, rule_id)
    return ok(rules.rule_view(rule), "Routing rule retrieved successfully")


@router.patch("/rules/{rule_id}", summary="Change a routing rule")
async def update_rule(
    rule_id: str,
    request: Request,
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    body = await read_json_object(request)
    rule = await rules.update_rule(session, tenant, rule_id, body)
    await session.commit()
    return ok(rules.rule_view(rule), "Routing rule updated successfully")


@router.delete("/rules/{rule_id}", summary="Delete a routing rule")
async def delete_rule(
    rule_id: str, session: AsyncSession = Depends(get_session), tenant: Tenant = Depends(get_tenant)
) -> Response:
    await rules.delete_rule(session, tenant, rule_id)
    await session.commit()
    return ok(DELETED, "Routing rule deleted successfully")


# Secret --------------------------------------------------------------------------------------


@router.post(
    "/secret/rotate",
    summary="Rotate the webhook signing secret: the new one is shown in this answer; "
    "the old one keeps signing for 24 hours",
)
async def rotate_secret(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        secret = await rotate_webhook_secret(session, ctx.sealer, tenant.project, utcnow())
        await session.commit()
        data = {
            "webhook_secret": secret,
            "previous_secret_expires_at": iso(tenant.project.previous_secret_expires_at),
        }
        return ok(data, "Webhook secret rotated successfully")

    return await idempotent(request, ctx, tenant, execute)
