"""One route parameter for what a project key's route works with: the request, the shared
context, the request's session and the tenant, and the ``Idempotency-Key`` wrapper they feed.

:func:`served_directly` gives a route's body the same :class:`Call` as an ASGI app of its own, for
the app's edge to serve ahead of FastAPI's routing (:class:`kirem.api.middleware.DirectRoute`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Receive, Scope, Send

from kirem.api.deps import ContextDep, SessionDep, TenantDep, bearer_token, tenant_for_request
from kirem.api.errors import error_answer
from kirem.api.idempotency import idempotent
from kirem.context import AppContext
from kirem.tenancy.service import Tenant


@dataclass(frozen=True)
class Call:
    request: Request
    ctx: AppContext
    session: AsyncSession
    tenant: Tenant

    async def once(self, execute: Callable[[], Awaitable[Response]]) -> Response:
        """``execute``'s answer, given once per ``Idempotency-Key`` (:mod:`kirem.api.idempotency`)."""
        return await idempotent(self.request, self.ctx, self.tenant, execute)


async def api_call(request: Request, ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Call:
    return Call(request, ctx, session, tenant)


CallDep = Annotated[Call, Depends(api_call)]
"""A route parameter typed ``CallDep`` receives the request of an API key with its context,
session and tenant (the key checked as :func:`kirem.api.deps.get_tenant` checks it)."""


def served_directly(route: Callable[[Call], Awaitable[Response]]) -> ASGIApp:
    """``route`` as a plain ASGI app: the key checked, the session opened and the refusals answered
    as FastAPI's dependencies (:func:`api_call`) and the app's error handlers would, without
    their per-request machinery."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        ctx: AppContext = request.app.state.ctx
        try:
            async with ctx.db.session() as session:
                tenant = await tenant_for_request(request, ctx, session, bearer_token(request))
                response = await route(Call(request, ctx, session, tenant))
        except Exception as exc:
            answer = error_answer(request, exc)
            if answer is None:
                raise
            response = answer
        await response(scope, receive, send)

    return app
