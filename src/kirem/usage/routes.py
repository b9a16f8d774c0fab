"""``GET /v1/usage`` (API key: its project) and ``GET /v1/manage/usage`` (account token: every project)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.deps import get_account, get_context, get_session, get_tenant
from kirem.api.responses import ok
from kirem.context import AppContext
from kirem.tenancy.models import Account
from kirem.tenancy.service import Tenant
from kirem.usage.report import account_usage, parse_month, project_usage

router = APIRouter(tags=["usage"])

MonthQuery = Query(None, description="A UTC month, YYYY-MM; the current month when absent.")


@router.get("/v1/usage", summary="This project's metered usage and charges for a month")
async def get_usage(
    month: str | None = MonthQuery,
    tenant: Tenant = Depends(get_tenant),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    data = await project_usage(session, tenant.project_id, parse_month(month), ctx.settings.price_table)
    return ok({**data, "plan": tenant.account.plan}, "Usage retrieved successfully")


@router.get("/v1/manage/usage", summary="The account's usage per project and its estimated bill for a month")
async def get_account_usage(
    month: str | None = MonthQuery,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    data = await account_usage(session, account, parse_month(month), ctx.settings.price_table)
    return ok(data, "Usage retrieved successfully")
