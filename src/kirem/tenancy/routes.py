"""Management API (account token) and operator API (operator token from the environment)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.analytics.params import iso
from kirem.api.body import read_json_object
from kirem.api.deps import get_account, get_context, get_session, require_operator
from kirem.api.responses import invalid, not_found, ok
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.db.scope import for_project, get_owned
from kirem.delivery.egress import egress_view, parse_egress, stored
from kirem.delivery.secret import rotate_webhook_secret
from kirem.tenancy import service
from kirem.tenancy.channels import create_channel
from kirem.tenancy.keys import create_key as create_key_from
from kirem.tenancy.models import Account, ApiKey, Channel
from kirem.tenancy.plan_changes import change_plan
from kirem.tenancy.plans import PLANS, PlanLimits, override_errors
from kirem.tenancy.project_settings import set_ip_allowlist
from kirem.tenancy.views import account_view, channel_view, connected_view, key_view, project_view

manage = APIRouter(prefix="/v1/manage", tags=["management"])
operator = APIRouter(prefix="/v1/operator", tags=["operator"], dependencies=[Depends(require_operator)])


def _name(body: dict[str, Any], field: str = "name") -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise invalid({field: "is required: a string of 1 to 200 characters"})
    return value.strip()


# Management: the account's own projects, keys and channels ----------------------------------


@manage.get("/account", summary="The calling account and its plan")
async def get_own_account(account: Account = Depends(get_account)) -> Response:
    limits = service.account_limits(account)
    return ok({**account_view(account), "limits": limits.__dict__}, "Account retrieved successfully")


@manage.get("/projects", summary="List projects")
async def list_projects(
    account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    projects = await service.account_projects(session, account)
    return ok([project_view(p, account) for p in projects], "Projects retrieved successfully")


@manage.post("/projects", summary="Create a project")
async def create_project(
    request: Request,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    body = await read_json_object(request)
    project = await service.create_project(session, ctx.sealer, account, _name(body))
    await session.commit()
    return ok(project_view(project, account), "Project created successfully", 201)


@manage.get("/projects/{project_id}", summary="Get a project")
async def get_project(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    project = await service.account_project(session, account, project_id)
    return ok(project_view(project, account), "Project retrieved successfully")


@manage.get("/projects/{project_id}/webhook-secret", summary="Reveal the project's webhook signing secret")
async def get_webhook_secret(
    project_id: str,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    return ok(
        {"webhook_secret": service.webhook_secret(ctx.sealer, project)},
        "Webhook secret retrieved successfully",
    )


@manage.post(
    "/projects/{project_id}/webhook-secret/rotate",
    summary="Rotate the webhook signing secret (the old one keeps signing for 24 hours)",
)
async def rotate_project_webhook_secret(
    project_id: str,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    secret = await rotate_webhook_secret(session, ctx.sealer, project, utcnow())
    await session.commit()
    data = {"webhook_secret": secret, "previous_secret_expires_at": iso(project.previous_secret_expires_at)}
    return ok(data, "Webhook secret rotated successfully")


@manage.get("/projects/{project_id}/ip-allowlist", summary="The project's IP allowlist")
async def get_ip_allowlist(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    project = await service.account_project(session, account, project_id)
    return ok({"cidrs": project.ip_allowlist or []}, "IP allowlist retrieved successfully")


@manage.put("/projects/{project_id}/ip-allowlist", summary="Replace the IP allowlist (growth plan and up)")
async def put_ip_allowlist(
    project_id: str,
    request: Request,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    body = await read_json_object(request)
    cidrs = set_ip_allowlist(account, project, body.get("cidrs"))
    await session.commit()
    return ok({"cidrs": cidrs}, "IP allowlist updated successfully")


@manage.get("/projects/{project_id}/egress", summary="Where the project's webhook deliveries leave from")
async def get_egress(
    project_id: str,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    return ok(egress_view(project, account), "Outbound settings retrieved successfully")


@manage.put(
    "/projects/{project_id}/egress",
    summary="Set a dedicated source address and/or proxy for webhook deliveries (scale plan and up)",
)
async def put_egress(
    project_id: str,
    request: Request,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    egress, errors = parse_egress(await read_json_object(request))
    if errors:
        raise invalid(errors)
    kept = stored(ctx.sealer, project, egress)
    if kept and not service.account_limits(account).dedicated_outbound_ip:
        raise service.plan_error(
            "dedicated_outbound_ip", f"Dedicated outbound IPs are not part of the {account.plan} plan."
        )
    project.egress = kept
    await session.commit()
    return ok(egress_view(project, account), "Outbound settings updated successfully")


@manage.get("/projects/{project_id}/keys", summary="List API keys (never their secrets)")
async def list_keys(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    project = await service.account_project(session, account, project_id)
    keys = (await session.execute(for_project(ApiKey, project.id).order_by(ApiKey.created_at))).scalars()
    return ok([key_view(k) for k in keys], "API keys retrieved successfully")


@manage.post(
    "/projects/{project_id}/keys", summary="Create an API key: the secret is shown only in this answer"
)
async def create_key(
    project_id: str,
    request: Request,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    body = await read_json_object(request) if await request.body() else {}
    key, secret = await create_key_from(session, account, project, body)
    await session.commit()
    return ok(key_view(key, secret), "API key created successfully", 201)


@manage.delete("/projects/{project_id}/keys/{key_id}", summary="Revoke an API key")
async def revoke_key(
    project_id: str,
    key_id: str,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    key = await service.revoke_api_key(session, project, key_id)
    await session.commit()
    return ok(key_view(key), "API key revoked successfully")


@manage.get("/projects/{project_id}/channels", summary="List channels")
async def list_channels(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    project = await service.account_project(session, account, project_id)
    channels = await service.list_channels(session, project.id)
    return ok([channel_view(c) for c in channels], "Channels retrieved successfully")


@manage.post(
    "/projects/{project_id}/channels", summary="Connect a channel (live Meta number or sandbox number)"
)
async def add_channel(
    project_id: str,
    request: Request,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    project = await service.account_project(session, account, project_id)
    body = await read_json_object(request)
    connected = await create_channel(ctx, session, account, project, body)
    await session.commit()
    return ok(connected_view(connected.channel, connected.check), "Channel created successfully", 201)


async def _channel(session: AsyncSession, account: Account, project_id: str, channel_id: str) -> Channel:
    project = await service.account_project(session, account, project_id)
    channel = await get_owned(session, Channel, channel_id, project.id)
    if channel is None:
        raise not_found("Channel")
    return channel


@manage.get("/projects/{project_id}/channels/{channel_id}", summary="Get a channel")
async def get_channel(
    project_id: str,
    channel_id: str,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    return ok(
        channel_view(await _channel(session, account, project_id, channel_id)),
        "Channel retrieved successfully",
    )


@manage.delete("/projects/{project_id}/channels/{channel_id}", summary="Disconnect a channel")
async def remove_channel(
    project_id: str,
    channel_id: str,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    channel = await _channel(session, account, project_id, channel_id)
    channel.status = "disabled"
    await session.commit()
    return ok(channel_view(channel), "Channel disabled successfully")


# Operator: accounts and plans ----------------------------------------------------------------


@operator.post("/accounts", summary="Create an account; its first account token is shown once")
async def create_account(request: Request, session: AsyncSession = Depends(get_session)) -> Response:
    body = await read_json_object(request)
    account = await service.create_account(session, _name(body), str(body.get("plan", "developer")))
    token = await service.mint_account_token(session, account)
    await session.commit()
    return ok({**account_view(account), "account_token": token}, "Account created successfully", 201)


@operator.get("/accounts", summary="List accounts")
async def list_accounts(session: AsyncSession = Depends(get_session)) -> Response:
    rows = await session.execute(select(Account).order_by(Account.created_at))
    return ok([account_view(a) for a in rows.scalars()], "Accounts retrieved successfully")


async def _account(session: AsyncSession, account_id: str) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("Account")
    return account


@operator.get("/accounts/{account_id}", summary="Get an account")
async def get_account_by_id(account_id: str, session: AsyncSession = Depends(get_session)) -> Response:
    return ok(account_view(await _account(session, account_id)), "Account retrieved successfully")


@operator.patch("/accounts/{account_id}", summary="Change an account's plan or limit overrides")
async def update_account(
    account_id: str, request: Request, session: AsyncSession = Depends(get_session)
) -> Response:
    account = await _account(session, account_id)
    body = await read_json_object(request)
    plan = str(body["plan"]) if "plan" in body else None
    overrides = body.get("limit_overrides") if "limit_overrides" in body else None
    if "limit_overrides" in body:
        known = set(PlanLimits.__dataclass_fields__)
        if not isinstance(overrides, dict) or not set(overrides) <= known:
            raise invalid({"limit_overrides": f"an object with keys among {', '.join(sorted(known))}"})
        errors = override_errors(overrides)
        if errors:
            raise invalid({f"limit_overrides.{name}": text for name, text in errors.items()})
    changes = await change_plan(session, account, plan=plan, overrides=overrides)
    await session.commit()
    return ok({**account_view(account), "changes": changes}, "Account updated successfully")


@operator.post("/accounts/{account_id}/tokens", summary="Mint another account token (shown once)")
async def mint_token(account_id: str, session: AsyncSession = Depends(get_session)) -> Response:
    account = await _account(session, account_id)
    token = await service.mint_account_token(session, account)
    await session.commit()
    return ok({"account_id": account.id, "account_token": token}, "Account token created successfully", 201)


@operator.get("/plans", summary="The plan table")
async def plans() -> Response:
    return ok({name: limits.__dict__ for name, limits in PLANS.items()}, "Plans retrieved successfully")
