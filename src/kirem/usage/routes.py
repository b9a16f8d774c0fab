"""``GET /v1/usage`` (API key: its project) and ``GET /v1/manage/usage`` (account token: every project)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from kirem.api.deps import AccountDep, ContextDep, SessionDep, TenantDep
from kirem.api.responses import ok
from kirem.api.route_docs import documented
from kirem.api.schemas import AUTHENTICATED, typed_query, wrapped
from kirem.usage.report import account_usage, parse_month, project_usage
from kirem.usage.schemas import USAGE_EXAMPLE, AccountUsage, ApiProjectUsage

router = APIRouter(tags=["usage"])

MonthQuery = typed_query(
    {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "examples": ["2026-11"]},
    "A UTC month, YYYY-MM; the current month when absent.",
)
ACCOUNT_USAGE_EXAMPLE = wrapped(
    "Usage retrieved successfully",
    {
        "account_id": "acc_9c8b7a6f5e4d3c2b1a0f9e8d",
        "month": "2026-11",
        "projects": [
            {
                "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
                "name": "shop",
                **{k: v for k, v in USAGE_EXAMPLE["data"].items() if k not in ("project_id", "plan")},
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
)


def _month_report(summary: str, data: Any, example: Any) -> dict[str, Any]:
    """The decorator arguments of a month's usage report (a malformed ``month`` is a 400)."""
    return documented(summary, data, 400, *AUTHENTICATED, example=example, r400="`month` is not YYYY-MM")


@router.get(
    "/v1/usage",
    **_month_report("This project's metered usage and charges for a month", ApiProjectUsage, USAGE_EXAMPLE),
)
async def get_usage(
    tenant: TenantDep, ctx: ContextDep, session: SessionDep, month: str | None = MonthQuery
) -> Response:
    data = await project_usage(session, tenant.project_id, parse_month(month), ctx.settings.price_table)
    return ok({**data, "plan": tenant.account.plan}, "Usage retrieved successfully")


@router.get(
    "/v1/manage/usage",
    tags=["management"],
    **_month_report(
        "The account's usage per project and its estimated bill for a month",
        AccountUsage,
        ACCOUNT_USAGE_EXAMPLE,
    ),
)
async def get_account_usage(
    account: AccountDep, ctx: ContextDep, session: SessionDep, month: str | None = MonthQuery
) -> Response:
    data = await account_usage(session, account, parse_month(month), ctx.settings.price_table)
    return ok(data, "Usage retrieved successfully")
