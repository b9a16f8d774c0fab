"""``GET /v1/usage`` (API key: its project) and ``GET /v1/manage/usage`` (account token: every project)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.deps import get_account, get_context, get_session, get_tenant
from kirem.api.responses import ok
from kirem.api.schemas import AUTHENTICATED, Envelope, answer, responses, typed_query, wrapped
from kirem.context import AppContext
from kirem.tenancy.models import Account
from kirem.tenancy.service import Tenant
from kirem.usage.report import account_usage, parse_month, project_usage
from kirem.usage.schemas import USAGE_EXAMPLE, AccountUsage, ApiProjectUsage

router = APIRouter(tags=["usage"])

MonthQuery = typed_query(
    {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "examples": ["2026-11"]},
    "A UTC month, YYYY-MM; the current month when absent.",
)
ERRORS = responses(400, *AUTHENTICATED, r400="`month` is not YYYY-MM")


@router.get(
    "/v1/usage",
    summary="This project's metered usage and charges for a month",
    response_model=Envelope[ApiProjectUsage],
    responses={**answer(200, USAGE_EXAMPLE), **ERRORS},
)
async def get_usage(
    month: str | None = MonthQuery,
    tenant: Tenant = Depends(get_tenant),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    data = await project_usage(session, tenant.project_id, parse_month(month), ctx.settings.price_table)
    return ok({**data, "plan": tenant.account.plan}, "Usage retrieved successfully")


@router.get(
    "/v1/manage/usage",
    summary="The account's usage per project and its estimated bill for a month",
    tags=["management"],
    response_model=Envelope[AccountUsage],
    responses={
        **answer(
            200,
            wrapped(
                "Usage retrieved successfully",
                {
                    "account_id": "acc_9c8b7a6f5e4d3c2b1a0f9e8d",
                    "month": "2026-11",
                    "projects": [
                        {
                            "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
                            "name": "shop",
                            **{
                                k: v
                                for k, v in USAGE_EXAMPLE["data"].items()
                                if k not in ("project_id", "plan")
                            },
                        }
                    ],
                    "bill": {
                        "currency": "IDR",
                        "plan": "growth",
                        "plan_fee": 25000,
                        "usage_billed": True,
                        "usage_amount": 652,
                        "total": 25652,
                    },
                },
            ),
        ),
        **ERRORS,
    },
)
async def get_account_usage(
    month: str | None = MonthQuery,
    account: Account = Depends(get_account),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
) -> Response:
    data = await account_usage(session, account, parse_month(month), ctx.settings.price_table)
    return ok(data, "Usage retrieved successfully")
