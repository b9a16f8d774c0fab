"""One route parameter for what a project key's route works with: the request, the shared
context, the request's session and the tenant, and the ``Idempotency-Key`` wrapper they feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.deps import ContextDep, SessionDep, TenantDep
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
