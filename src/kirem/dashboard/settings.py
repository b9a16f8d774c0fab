"""Settings: the IP allowlist (never one that locks out the person saving it), plan and usage."""

from __future__ import annotations

from dataclasses import fields

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kirem.api.responses import ApiError
from kirem.dashboard.auth import ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import field_errors, form_status
from kirem.dashboard.i18n import translator
from kirem.dashboard.web import language, redirect, render
from kirem.kit.errors import invalid
from kirem.tenancy.allowlist import allowed, client_address, parse_networks
from kirem.tenancy.plans import PLANS
from kirem.tenancy.project_settings import set_ip_allowlist
from kirem.usage.report import account_usage, parse_month

router = APIRouter()
STAFF = require_role("owner", "developer")


def viewer_address(request: Request, access: ProjectAccess) -> str:
    """The address this browser's requests come from, as the allowlist will see it."""
    return client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        access.ctx.settings.trusted_proxy_networks,
    )


async def _page(
    request: Request,
    access: ProjectAccess,
    *,
    errors: dict[str, str] | None = None,
    allowlist_text: str | None = None,
) -> Response:
    month_error = None
    try:
        month = parse_month(request.query_params.get("month"))
    except ApiError as exc:
        month_error = field_errors(exc).get("month")
        month = parse_month(None)
    usage = await account_usage(access.session, access.account, month, access.ctx.settings.price_table)
    limits = access.tenant.limits
    context = {
        "errors": errors or {},
        "allowlist_text": allowlist_text
        if allowlist_text is not None
        else "\n".join(access.project.ip_allowlist or []),
        "address": viewer_address(request, access),
        "allowlist_allowed": limits.ip_allowlist,
        "limits": [(field.name, getattr(limits, field.name)) for field in fields(limits)],
        "plans": list(PLANS),
        "usage": usage,
        "month": month,
        "month_error": month_error,
        "saved": request.query_params.get("saved") == "1",
    }
    return render(request, "settings.html", context, form_status(errors))


@router.get("/dashboard/p/{project_id}/settings")
async def settings_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return await _page(request, access)


@router.post("/dashboard/p/{project_id}/settings/ip-allowlist", dependencies=[Depends(check_csrf)])
async def save_allowlist(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await request.form()
    raw = form.get("cidrs")
    entered = raw if isinstance(raw, str) else ""
    lines = [line.strip() for line in entered.replace(",", "\n").splitlines() if line.strip()]
    address = viewer_address(request, access)
    try:
        cidrs, errors = parse_networks(lines)
        if not errors and cidrs and not allowed(address, cidrs):
            t = translator(language(request))
            raise invalid({"cidrs": t("settings.lockout", address=address)})
        set_ip_allowlist(access.account, access.project, lines)
    except ApiError as exc:
        return await _page(
            request,
            access,
            errors=field_errors(exc),
            allowlist_text=entered,
        )
    await access.session.commit()
    return redirect(f"/dashboard/p/{access.project.id}/settings?saved=1")
