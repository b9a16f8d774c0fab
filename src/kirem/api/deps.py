"""Request dependencies: the shared context, a session, and who is calling (key, account, operator)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError
from kirem.api.schemas import ACCOUNT_TOKEN, API_KEY, OPERATOR_TOKEN
from kirem.context import AppContext
from kirem.kit.errors import not_found
from kirem.ratelimit import RateLimiter
from kirem.tenancy.allowlist import allowed, client_address
from kirem.tenancy.models import Account, Project
from kirem.tenancy.service import Tenant, account_for_token, account_project, tenant_for_key


async def get_context(request: Request) -> AppContext:
    """Async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool (a hand-off)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


async def get_session(ctx: AppContext = Depends(get_context)) -> AsyncIterator[AsyncSession]:
    async with ctx.db.session() as session:
        yield session


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "Missing API key",
            {"authorization": "send 'Authorization: Bearer <key>'"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token


async def get_tenant(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    _: HTTPAuthorizationCredentials | None = Security(API_KEY),
) -> Tenant:
    return await tenant_for_request(request, ctx, session, bearer_token(request))


async def tenant_for_request(
    request: Request,
    ctx: AppContext,
    session: AsyncSession,
    token: str,
    scope: str = "api",
    limit: tuple[RateLimiter, str] | None = None,
) -> Tenant:
    """The project an API key of ``scope`` speaks for, once its allowlist and rate limit let this
    request in. ``limit`` is the bucket to draw from (default: the key's own, at the API's rate)."""
    tenant = await tenant_for_key(session, token) if token.startswith("kirem_") else None
    if tenant is None:
        raise ApiError(
            401,
            "Invalid or revoked API key",
            {"authorization": "the key is unknown or has been revoked"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    if tenant.calling_key.scope != scope:
        where = (
            "the project's dedicated MCP endpoint (/v1/mcp/{slug})"
            if tenant.calling_key.scope == "mcp"
            else "the REST API and /v1/mcp"
        )
        raise ApiError(
            403, f"This API key works only on {where}", {"authorization": f"scope {tenant.calling_key.scope}"}
        )
    address = client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        ctx.settings.trusted_proxy_networks,
    )
    if tenant.limits.ip_allowlist and not allowed(address, tenant.project.ip_allowlist or []):
        raise ApiError(
            403,
            f"Requests from {address or 'this address'} are not on this project's IP allowlist",
            {"ip": address},
        )
    limiter, bucket = limit or (ctx.limiter, tenant.calling_key.id)
    wait = limiter.acquire(bucket)
    if wait > 0:
        retry = limiter.retry_after_header(wait)
        per = "per key" if limit is None else "on this endpoint"
        raise ApiError(
            429,
            f"Rate limit exceeded: at most {limiter.rate:g} requests/s {per}",
            {"retry_after": int(retry)},
            headers={"Retry-After": retry},
        )
    request.state.tenant = tenant
    return tenant


async def get_account(
    request: Request,
    session: AsyncSession = Depends(get_session),
    _: HTTPAuthorizationCredentials | None = Security(ACCOUNT_TOKEN),
) -> Account:
    token = bearer_token(request)
    account = await account_for_token(session, token) if token.startswith("kirem_acct_") else None
    if account is None:
        raise ApiError(401, "Invalid or revoked account token", headers={"WWW-Authenticate": "Bearer"})
    return account


async def get_account_project(
    project_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Project:
    """The project of the path's ``project_id``, if the calling account owns it (404 otherwise)."""
    return await account_project(session, account, project_id)


async def get_path_account(account_id: str, session: AsyncSession = Depends(get_session)) -> Account:
    """The account of the path's ``account_id`` (404 otherwise), for the operator's routes."""
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("Account")
    return account


AccountProjectDep = Annotated[Project, Depends(get_account_project)]
"""A route parameter typed ``AccountProjectDep`` receives the calling account's project of the path."""
PathAccountDep = Annotated[Account, Depends(get_path_account)]
"""A route parameter typed ``PathAccountDep`` receives the account named by the path (operator API)."""


async def require_operator(
    request: Request,
    ctx: AppContext = Depends(get_context),
    _: HTTPAuthorizationCredentials | None = Security(OPERATOR_TOKEN),
) -> None:
    token = bearer_token(request)
    expected = ctx.settings.operator_token
    if not expected:
        raise ApiError(403, "The operator API is disabled: set KIREM_OPERATOR_TOKEN to enable it")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(401, "Invalid operator token", headers={"WWW-Authenticate": "Bearer"})


ContextDep = Annotated[AppContext, Depends(get_context)]
"""A route parameter typed ``ContextDep`` receives the process's shared context."""
SessionDep = Annotated[AsyncSession, Depends(get_session)]
"""A route parameter typed ``SessionDep`` receives a database session for this request."""
TenantDep = Annotated[Tenant, Depends(get_tenant)]
"""A route parameter typed ``TenantDep`` receives the project the calling API key speaks for."""
AccountDep = Annotated[Account, Depends(get_account)]
"""A route parameter typed ``AccountDep`` receives the account the calling token belongs to."""
