"""Public API for webhook routing: targets, rules, the rule tester and secret rotation (project key)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from kirem.api.body import read_json_object
from kirem.api.calls import CallDep
from kirem.api.deps import ContextDep, SessionDep, TenantDep
from kirem.api.responses import ok
from kirem.api.route_docs import answers
from kirem.api.schemas import (
    AUTHENTICATED,
    BODY,
    IDEMPOTENT,
    Envelope,
    Success,
    answer,
    idempotency,
    operation,
    request_body,
    responses,
    wrapped,
)
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.delivery.secret import rotate_webhook_secret
from kirem.delivery.target_probe import send_test_event
from kirem.kit.params import iso
from kirem.routing import rules, targets
from kirem.routing.schemas import (
    RULE_EXAMPLE,
    RULE_TEST_EXAMPLE,
    TARGET_EXAMPLE,
    Rule,
    RuleCreate,
    RuleTest,
    RuleTestResult,
    RuleUpdate,
    SecretRotated,
    Target,
    TargetCreate,
    TargetTest,
    TargetUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

DELETED = {"success": True}

TARGET_ANSWER = {
    "id": "tgt_3f9a0c1e5b7d9f2a4c6e8b0d",
    "url": "https://example.com/hooks/whatsapp",
    "description": "CRM",
    "payload_format": "kirem",
    "events": ["messages.received", "messages.status"],
    "enabled": True,
    "headers": {"Authorization": "****"},
    "timeout_seconds": 10.0,
    "max_attempts": 8,
    "retry_schedule": None,
    "disabled_reason": None,
    "disabled_at": None,
    "failing_since": None,
    "created_at": "2026-11-29T10:00:00Z",
    "updated_at": "2026-11-29T10:00:00Z",
}
RULE_ANSWER = {
    "id": "rul_8d2c4b6a0e1f3a5c7b9d1e2f",
    "name": RULE_EXAMPLE["name"],
    "enabled": True,
    "disabled_reason": None,
    "conditions": RULE_EXAMPLE["conditions"],
    "target_ids": RULE_EXAMPLE["target_ids"],
    "created_at": "2026-11-29T10:00:00Z",
    "updated_at": "2026-11-29T10:00:00Z",
}
LIST = responses(*AUTHENTICATED)
READ = responses(*AUTHENTICATED, 404)
WRITE = responses(*BODY, *AUTHENTICATED, 404)
CREATE = responses(*BODY, *AUTHENTICATED, *IDEMPOTENT)


def _production(ctx: AppContext) -> bool:
    return ctx.settings.env == "production"


# Targets -------------------------------------------------------------------------------------


@router.post(
    "/targets",
    summary="Create a webhook target",
    **answers(Target, "Webhook target created successfully", TARGET_ANSWER, CREATE, 201),
    openapi_extra=operation(request_body(TargetCreate, TARGET_EXAMPLE), idempotency()),
)
async def create_target(call: CallDep) -> Response:
    async def execute() -> Response:
        ctx, session = call.ctx, call.session
        body = await read_json_object(call.request)
        target = await targets.create_target(
            session, call.tenant, body, sealer=ctx.sealer, production=_production(ctx)
        )
        await session.commit()
        return ok(targets.target_view(ctx.sealer, target), "Webhook target created successfully", 201)

    return await call.once(execute)


@router.get(
    "/targets",
    summary="List webhook targets",
    **answers(list[Target], "Webhook targets retrieved successfully", [TARGET_ANSWER], LIST),
)
async def list_targets(ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    rows = await targets.list_targets(session, tenant.project_id)
    return ok([targets.target_view(ctx.sealer, t) for t in rows], "Webhook targets retrieved successfully")


@router.get(
    "/targets/{target_id}",
    summary="Get a webhook target",
    **answers(Target, "Webhook target retrieved successfully", TARGET_ANSWER, READ),
)
async def get_target(target_id: str, ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    target = await targets.get_target(session, tenant.project_id, target_id)
    return ok(targets.target_view(ctx.sealer, target), "Webhook target retrieved successfully")


@router.patch(
    "/targets/{target_id}",
    summary="Change a webhook target (enabled: true re-enables it)",
    **answers(Target, "Webhook target updated successfully", TARGET_ANSWER, WRITE),
    openapi_extra=request_body(TargetUpdate, {"enabled": True, "headers": {"Authorization": "****"}}),
)
async def update_target(target_id: str, call: CallDep) -> Response:
    ctx, session = call.ctx, call.session
    body = await read_json_object(call.request)
    target = await targets.update_target(
        session, call.tenant, target_id, body, sealer=ctx.sealer, production=_production(ctx)
    )
    await session.commit()
    return ok(targets.target_view(ctx.sealer, target), "Webhook target updated successfully")


@router.post(
    "/targets/{target_id}/test",
    summary="Send a signed sample event (webhooks.test) now; answer the consumer's status, latency and body",
    response_model=Envelope[TargetTest],
    responses={
        **answer(
            200,
            wrapped(
                "Test event not delivered",
                {
                    "target_id": "tgt_3f9a0c1e5b7d9f2a4c6e8b0d",
                    "url": "https://example.com/hooks",
                    "event": "webhooks.test",
                    "event_id": "evt_7e6d5c4b3a2f1e0d9c8b7a6f",
                    "delivery_id": "dlv_0a1b2c3d4e5f6a7b8c9d0e1f",
                    "success": False,
                    "status_code": 503,
                    "latency_ms": 41,
                    "error": "HTTP 503",
                    "response_body": "upstream down",
                    "response_truncated": False,
                },
            ),
            "What the consumer answered, whatever it was",
        ),
        **READ,
    },
)
async def test_target(target_id: str, ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    result = await send_test_event(ctx, session, tenant, target_id)
    message = "Test event delivered" if result["success"] else "Test event not delivered"
    return ok(result, message)


@router.delete(
    "/targets/{target_id}",
    summary="Delete a webhook target (also from every rule; a rule left without targets matches nothing)",
    **answers(Success, "Webhook target deleted successfully", DELETED, READ),
)
async def delete_target(target_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    await targets.delete_target(session, tenant, target_id)
    await session.commit()
    return ok(DELETED, "Webhook target deleted successfully")


# Rules ---------------------------------------------------------------------------------------


@router.post(
    "/rules",
    summary="Create a routing rule",
    **answers(Rule, "Routing rule created successfully", RULE_ANSWER, CREATE, 201),
    openapi_extra=operation(request_body(RuleCreate, RULE_EXAMPLE), idempotency()),
)
async def create_rule(call: CallDep) -> Response:
    async def execute() -> Response:
        rule = await rules.create_rule(call.session, call.tenant, await read_json_object(call.request))
        await call.session.commit()
        return ok(rules.rule_view(rule), "Routing rule created successfully", 201)

    return await call.once(execute)


@router.get(
    "/rules",
    summary="List routing rules",
    **answers(list[Rule], "Routing rules retrieved successfully", [RULE_ANSWER], LIST),
)
async def list_rules(session: SessionDep, tenant: TenantDep) -> Response:
    rows = await rules.list_rules(session, tenant.project_id)
    return ok([rules.rule_view(r) for r in rows], "Routing rules retrieved successfully")


@router.post(
    "/rules/test",
    summary="Which targets would receive an event, and why (sends nothing)",
    response_model=Envelope[RuleTestResult],
    responses={
        **answer(
            200,
            wrapped(
                "Routing test completed successfully",
                {
                    "targets": [
                        {
                            "target_id": "tgt_3f9a0c1e5b7d9f2a4c6e8b0d",
                            "url": "https://example.com/hooks/whatsapp",
                            "selected": True,
                            "reason": f"rule {RULE_EXAMPLE['name']!r} ({RULE_ANSWER['id']}) matched",
                            "rule_ids": ["rul_8d2c4b6a0e1f3a5c7b9d1e2f"],
                        }
                    ],
                    "facts": {
                        "type": "messages.received",
                        "message_type": "text",
                        "sender": "62812345678",
                        "texts": ["Berapa harganya?"],
                        "channel_id": None,
                        "voice": False,
                        "sender_user_ids": [],
                    },
                },
            ),
        ),
        **responses(*BODY, *AUTHENTICATED, *IDEMPOTENT),
    },
    openapi_extra=operation(request_body(RuleTest, RULE_TEST_EXAMPLE), idempotency()),
)
async def try_rules(call: CallDep) -> Response:
    async def execute() -> Response:
        answer = await rules.run_rule_test(call.session, call.tenant, await read_json_object(call.request))
        return ok(answer, "Routing test completed successfully")

    return await call.once(execute)


@router.get(
    "/rules/{rule_id}",
    summary="Get a routing rule",
    **answers(Rule, "Routing rule retrieved successfully", RULE_ANSWER, READ),
)
async def get_rule(rule_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    rule = await rules.get_rule(session, tenant.project_id, rule_id)
    return ok(rules.rule_view(rule), "Routing rule retrieved successfully")


@router.patch(
    "/rules/{rule_id}",
    summary="Change a routing rule",
    **answers(Rule, "Routing rule updated successfully", RULE_ANSWER, WRITE),
    openapi_extra=request_body(RuleUpdate, {"enabled": False}),
)
async def update_rule(rule_id: str, request: Request, session: SessionDep, tenant: TenantDep) -> Response:
    body = await read_json_object(request)
    rule = await rules.update_rule(session, tenant, rule_id, body)
    await session.commit()
    return ok(rules.rule_view(rule), "Routing rule updated successfully")


@router.delete(
    "/rules/{rule_id}",
    summary="Delete a routing rule",
    **answers(Success, "Routing rule deleted successfully", DELETED, READ),
)
async def delete_rule(rule_id: str, session: SessionDep, tenant: TenantDep) -> Response:
    await rules.delete_rule(session, tenant, rule_id)
    await session.commit()
    return ok(DELETED, "Routing rule deleted successfully")


# Secret --------------------------------------------------------------------------------------


@router.post(
    "/secret/rotate",
    summary="Rotate the webhook signing secret: the new one is shown in this answer; "
    "the old one keeps signing for 24 hours",
    response_model=Envelope[SecretRotated],
    responses={
        **answer(
            200,
            wrapped(
                "Webhook secret rotated successfully",
                {"webhook_secret": "whsec_…", "previous_secret_expires_at": "2026-11-30T10:00:00Z"},
            ),
        ),
        **responses(*AUTHENTICATED, *IDEMPOTENT),
    },
    openapi_extra=idempotency(),
)
async def rotate_secret(call: CallDep) -> Response:
    async def execute() -> Response:
        project = call.tenant.project
        secret = await rotate_webhook_secret(call.session, call.ctx.sealer, project, utcnow())
        await call.session.commit()
        data = {
            "webhook_secret": secret,
            "previous_secret_expires_at": iso(project.previous_secret_expires_at),
        }
        return ok(data, "Webhook secret rotated successfully")

    return await call.once(execute)
