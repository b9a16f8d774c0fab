"""API keys: list with last use, create (the secret shown once, with a copy button), revoke."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kirem.api.responses import ApiError
from kirem.dashboard.auth import ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import field_errors, form_status, text
from kirem.dashboard.web import redirect, render
from kirem.db.scope import for_project
from kirem.tenancy.keys import create_key
from kirem.tenancy.models import ApiKey
from kirem.tenancy.service import revoke_api_key

router = APIRouter()
STAFF = require_role("owner", "developer")


async def _page(
    request: Request,
    access: ProjectAccess,
    *,
    created: tuple[ApiKey, str] | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    stmt = for_project(ApiKey, access.project.id).order_by(
        ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc()
    )
    keys = list((await access.session.execute(stmt)).scalars())
    context = {
        "keys": keys,
        "created": created,
        "errors": errors or {},
        "values": values or {"name": "", "mode": "live", "scope": "api"},
        "mcp_allowed": access.tenant.limits.dedicated_mcp,
    }
    return render(request, "keys.html", context, form_status(errors))


@router.get("/dashboard/p/{project_id}/keys")
async def keys_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return await _page(request, access)


@router.post("/dashboard/p/{project_id}/keys", dependencies=[Depends(check_csrf)])
async def create_key_form(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await request.form()
    values = {
        "name": text(form, "name") or "default",
        "mode": text(form, "mode") or "live",
        "scope": text(form, "scope") or "api",
    }
    try:
        key, secret = await create_key(access.session, access.account, access.project, values)
    except ApiError as exc:
        await access.recover()
        return await _page(request, access, errors=field_errors(exc), values=values)
    await access.session.commit()
    return await _page(request, access, created=(key, secret))


@router.post("/dashboard/p/{project_id}/keys/{key_id}/revoke", dependencies=[Depends(check_csrf)])
async def revoke_key_form(key_id: str, access: ProjectAccess = Depends(STAFF)) -> Response:
    try:
        await revoke_api_key(access.session, access.project, key_id)
    except ApiError:
        return redirect(f"/dashboard/p/{access.project.id}/keys?missing=1")
    await access.session.commit()
    return redirect(f"/dashboard/p/{access.project.id}/keys?revoked=1")
