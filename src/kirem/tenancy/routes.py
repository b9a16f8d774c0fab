"""Management API (account token) and operator API (operator token from the environment)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy import select

from kirem.api.body import read_json_object
from kirem.api.deps import (
    AccountDep,
    AccountProjectDep,
    ContextDep,
    PathAccountDep,
    SessionDep,
)
from kirem.api.responses import ok
from kirem.api.route_docs import documented
from kirem.api.routers import management_router, operator_router
from kirem.api.schemas import request_body
from kirem.db.base import utcnow
from kirem.db.scope import for_project, get_owned
from kirem.delivery.secret import rotate_webhook_secret
from kirem.kit.errors import invalid, not_found
from kirem.kit.params import iso
from kirem.plan_changes import change_plan
from kirem.tenancy import service
from kirem.tenancy.channels import create_channel
from kirem.tenancy.egress import egress_view, parse_egress, stored
from kirem.tenancy.keys import create_key as create_key_from
from kirem.tenancy.limits import plan_error
from kirem.tenancy.models import Account, ApiKey, Channel
from kirem.tenancy.plans import PLANS, PlanLimits, override_errors
from kirem.tenancy.project_settings import set_ip_allowlist
from kirem.tenancy.schemas import (
    AccountCreateBody,
    AccountToken,
    AccountUpdateBody,
    AccountUpdated,
    AccountView,
    AccountWithToken,
    ChannelCreateBody,
    ChannelView,
    ConnectedChannelView,
    EgressBody,
    EgressView,
    IpAllowlistBody,
    IpAllowlistView,
    KeyCreateBody,
    KeyView,
    NameBody,
    NewKeyView,
    OwnAccountView,
    PlanLimitsView,
    ProjectView,
    RotatedSecretView,
    WebhookSecretView,
)
from kirem.tenancy.views import account_view, channel_view, connected_view, key_view, project_view

manage = management_router()
operator = operator_router()


def _name(body: dict[str, Any], field: str = "name") -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise invalid({field: "is required: a string of 1 to 200 characters"})
    return value.strip()


# Management: the account's own projects, keys and channels ----------------------------------


@manage.get("/account", **documented("The calling account and its plan", OwnAccountView))
async def get_own_account(account: AccountDep) -> Response:
    limits = service.account_limits(account)
    return ok({**account_view(account), "limits": limits.__dict__}, "Account retrieved successfully")


@manage.get("/projects", **documented("List projects", list[ProjectView]))
async def list_projects(account: AccountDep, session: SessionDep) -> Response:
    projects = await service.account_projects(session, account)
    return ok([project_view(p, account) for p in projects], "Projects retrieved successfully")


@manage.post(
    "/projects",
    **documented(
        "Create a project",
        ProjectView,
        403,
        409,
        body=request_body(NameBody, {"name": "Toko Melati"}),
        status=201,
    ),
)
async def create_project(
    request: Request, account: AccountDep, ctx: ContextDep, session: SessionDep
) -> Response:
    body = await read_json_object(request)
    project = await service.create_project(session, ctx.sealer, account, _name(body))
    await session.commit()
    return ok(project_view(project, account), "Project created successfully", 201)


@manage.get("/projects/{project_id}", **documented("Get a project", ProjectView, 404))
async def get_project(project: AccountProjectDep, account: AccountDep) -> Response:
    return ok(project_view(project, account), "Project retrieved successfully")


@manage.get(
    "/projects/{project_id}/webhook-secret",
    **documented("Reveal the project's webhook signing secret", WebhookSecretView, 404),
)
async def get_webhook_secret(project: AccountProjectDep, ctx: ContextDep) -> Response:
    secret = service.webhook_secret(ctx.sealer, project)
    return ok({"webhook_secret": secret}, "Webhook secret retrieved successfully")


@manage.post(
    "/projects/{project_id}/webhook-secret/rotate",
    **documented(
        "Rotate the webhook signing secret (the old one keeps signing for 24 hours)", RotatedSecretView, 404
    ),
)
async def rotate_project_webhook_secret(
    project: AccountProjectDep, ctx: ContextDep, session: SessionDep
) -> Response:
    secret = await rotate_webhook_secret(session, ctx.sealer, project, utcnow())
    await session.commit()
    data = {"webhook_secret": secret, "previous_secret_expires_at": iso(project.previous_secret_expires_at)}
    return ok(data, "Webhook secret rotated successfully")


@manage.get(
    "/projects/{project_id}/ip-allowlist", **documented("The project's IP allowlist", IpAllowlistView, 404)
)
async def get_ip_allowlist(project: AccountProjectDep) -> Response:
    return ok({"cidrs": project.ip_allowlist or []}, "IP allowlist retrieved successfully")


@manage.put(
    "/projects/{project_id}/ip-allowlist",
    **documented(
        "Replace the IP allowlist (growth plan and up)",
        IpAllowlistView,
        403,
        404,
        body=request_body(IpAllowlistBody, {"cidrs": ["203.0.113.0/24", "2001:db8::1"]}),
    ),
)
async def put_ip_allowlist(
    project: AccountProjectDep, request: Request, account: AccountDep, session: SessionDep
) -> Response:
    body = await read_json_object(request)
    cidrs = set_ip_allowlist(account, project, body.get("cidrs"))
    await session.commit()
    return ok({"cidrs": cidrs}, "IP allowlist updated successfully")


@manage.get(
    "/projects/{project_id}/egress",
    **documented("Where the project's webhook deliveries leave from", EgressView, 404),
)
async def get_egress(project: AccountProjectDep, account: AccountDep) -> Response:
    return ok(egress_view(project, account), "Outbound settings retrieved successfully")


@manage.put(
    "/projects/{project_id}/egress",
    **documented(
        "Set a dedicated source address and/or proxy for webhook deliveries (scale plan and up)",
        EgressView,
        403,
        404,
        body=request_body(
            EgressBody,
            {"bind_address": "203.0.113.10", "proxy_url": "http://user:secret@proxy.internal:3128"},
        ),
    ),
)
async def put_egress(
    project: AccountProjectDep, request: Request, account: AccountDep, ctx: ContextDep, session: SessionDep
) -> Response:
    egress, errors = parse_egress(await read_json_object(request))
    if errors:
        raise invalid(errors)
    kept = stored(ctx.sealer, project, egress)
    if kept and not service.account_limits(account).dedicated_outbound_ip:
        raise plan_error(
            "dedicated_outbound_ip", f"Dedicated outbound IPs are not part of the {account.plan} plan."
        )
    project.egress = kept
    await session.commit()
    return ok(egress_view(project, account), "Outbound settings updated successfully")


@manage.get(
    "/projects/{project_id}/keys", **documented("List API keys (never their secrets)", list[KeyView], 404)
)
async def list_keys(project: AccountProjectDep, session: SessionDep) -> Response:
    keys = (await session.execute(for_project(ApiKey, project.id).order_by(ApiKey.created_at))).scalars()
    return ok([key_view(k) for k in keys], "API keys retrieved successfully")


@manage.post(
    "/projects/{project_id}/keys",
    **documented(
        "Create an API key: the secret is shown only in this answer",
        NewKeyView,
        403,
        404,
        body=request_body(KeyCreateBody, {"name": "ci", "mode": "test", "scope": "api"}, required=False),
        status=201,
    ),
)
async def create_key(
    project: AccountProjectDep, request: Request, account: AccountDep, session: SessionDep
) -> Response:
    body = await read_json_object(request) if await request.body() else {}
    key, secret = await create_key_from(session, account, project, body)
    await session.commit()
    return ok(key_view(key, secret), "API key created successfully", 201)


@manage.delete("/projects/{project_id}/keys/{key_id}", **documented("Revoke an API key", KeyView, 404))
async def revoke_key(project_id: str, key_id: str, account: AccountDep, session: SessionDep) -> Response:
    project = await service.account_project(session, account, project_id)
    key = await service.revoke_api_key(session, project, key_id)
    await session.commit()
    return ok(key_view(key), "API key revoked successfully")


@manage.get("/projects/{project_id}/channels", **documented("List channels", list[ChannelView], 404))
async def list_channels(project: AccountProjectDep, session: SessionDep) -> Response:
    channels = await service.list_channels(session, project.id)
    return ok([channel_view(c) for c in channels], "Channels retrieved successfully")


@manage.post(
    "/projects/{project_id}/channels",
    **documented(
        "Connect a channel (live Meta number or sandbox number)",
        ConnectedChannelView,
        403,
        404,
        409,
        424,
        body=request_body(
            ChannelCreateBody,
            examples={
                "live": {
                    "kind": "live",
                    "name": "Toko Melati",
                    "phone_number_id": "106540352242922",
                    "waba_id": "102290129340398",
                    "access_token": "EAAG…",
                    "subscribe_app": True,
                },
                "sandbox": {"kind": "sandbox"},
            },
        ),
        status=201,
    ),
)
async def add_channel(
    project: AccountProjectDep, request: Request, account: AccountDep, ctx: ContextDep, session: SessionDep
) -> Response:
    body = await read_json_object(request)
    connected = await create_channel(ctx, session, account, project, body)
    await session.commit()
    return ok(connected_view(connected.channel, connected.check), "Channel created successfully", 201)


async def _channel(project_id: str, channel_id: str, account: AccountDep, session: SessionDep) -> Channel:
    """The path's channel in the calling account's project of the path (its path parameters in
    path order, as the document lists them)."""
    project = await service.account_project(session, account, project_id)
    channel = await get_owned(session, Channel, channel_id, project.id)
    if channel is None:
        raise not_found("Channel")
    return channel


ChannelDep = Annotated[Channel, Depends(_channel)]


@manage.get("/projects/{project_id}/channels/{channel_id}", **documented("Get a channel", ChannelView, 404))
async def get_channel(channel: ChannelDep) -> Response:
    return ok(channel_view(channel), "Channel retrieved successfully")


@manage.delete(
    "/projects/{project_id}/channels/{channel_id}", **documented("Disconnect a channel", ChannelView, 404)
)
async def remove_channel(channel: ChannelDep, session: SessionDep) -> Response:
    channel.status = "disabled"
    await session.commit()
    return ok(channel_view(channel), "Channel disabled successfully")


# Operator: accounts and plans ----------------------------------------------------------------


@operator.post(
    "/accounts",
    **documented(
        "Create an account; its first account token is shown once",
        AccountWithToken,
        409,
        body=request_body(AccountCreateBody, {"name": "Agensi Nusantara", "plan": "growth"}),
        status=201,
    ),
)
async def create_account(request: Request, session: SessionDep) -> Response:
    body = await read_json_object(request)
    account = await service.create_account(session, _name(body), str(body.get("plan", "developer")))
    token = await service.mint_account_token(session, account)
    await session.commit()
    return ok({**account_view(account), "account_token": token}, "Account created successfully", 201)


@operator.get("/accounts", **documented("List accounts", list[AccountView]))
async def list_accounts(session: SessionDep) -> Response:
    rows = await session.execute(select(Account).order_by(Account.created_at))
    return ok([account_view(a) for a in rows.scalars()], "Accounts retrieved successfully")


@operator.get("/accounts/{account_id}", **documented("Get an account", AccountView, 404))
async def get_account_by_id(account: PathAccountDep) -> Response:
    return ok(account_view(account), "Account retrieved successfully")


@operator.patch(
    "/accounts/{account_id}",
    **documented(
        "Change an account's plan or limit overrides",
        AccountUpdated,
        404,
        body=request_body(
            AccountUpdateBody, {"plan": "scale", "limit_overrides": {"outbound_per_day": 50000}}
        ),
    ),
)
async def update_account(account: PathAccountDep, request: Request, session: SessionDep) -> Response:
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


@operator.post(
    "/accounts/{account_id}/tokens",
    **documented("Mint another account token (shown once)", AccountToken, 404, status=201),
)
async def mint_token(account: PathAccountDep, session: SessionDep) -> Response:
    token = await service.mint_account_token(session, account)
    await session.commit()
    return ok({"account_id": account.id, "account_token": token}, "Account token created successfully", 201)


@operator.get("/plans", **documented("The plan table", dict[str, PlanLimitsView]))
async def plans() -> Response:
    return ok({name: limits.__dict__ for name, limits in PLANS.items()}, "Plans retrieved successfully")
