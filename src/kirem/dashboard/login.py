"""Sign-in, sign-out, the language switch and the start page (projects, or accounts for the operator)."""

from __future__ import annotations

import hmac
import math

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from kirem.api.deps import ContextDep, SessionDep, get_session
from kirem.context import AppContext
from kirem.dashboard.auth import (
    SESSION_COOKIE,
    check_csrf,
    current_session,
    require_session,
)
from kirem.dashboard.forms import text
from kirem.dashboard.i18n import LANGUAGES, translator
from kirem.dashboard.nav import landing
from kirem.dashboard.passwords import verify_password
from kirem.dashboard.sessions import (
    ActiveSession,
    clear_failures,
    end_every_session,
    end_session,
    locked_for,
    purge_stale,
    record_failure,
    start_session,
    throttle_keys,
)
from kirem.dashboard.users import ProjectRole, find_user, visible_projects
from kirem.dashboard.web import (
    LANG_COOKIE,
    language,
    page_number,
    redirect,
    render,
    safe_next,
    secure_cookies,
)
from kirem.db.base import utcnow
from kirem.tenancy.allowlist import client_address
from kirem.tenancy.models import Account, Project

router = APIRouter()

OPERATOR_PAGE_SIZE = 100


def _address(request: Request, ctx: AppContext) -> str:
    return client_address(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        ctx.settings.trusted_proxy_networks,
    )


def _signed_in(request: Request, cookie: str, next_url: str) -> Response:
    response = redirect(next_url)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/dashboard",
    )
    return response


def _login_page(
    request: Request,
    *,
    email: str = "",
    errors: dict[str, str] | None = None,
    operator_errors: dict[str, str] | None = None,
    notice: str | None = None,
) -> Response:
    context = {
        "next": safe_next(request.query_params.get("next") or None, ""),
        "email": email,
        "errors": errors or {},
        "operator_errors": operator_errors or {},
        "notice": notice,
    }
    return render(request, "login.html", context)


@router.get("/dashboard", include_in_schema=False)
async def dashboard_root() -> Response:
    return redirect("/dashboard/", 307)


@router.get("/dashboard/login", include_in_schema=False)
async def login_form(request: Request, web: ActiveSession | None = Depends(current_session)) -> Response:
    if web is not None:
        return redirect(safe_next(request.query_params.get("next")))
    notice = request.query_params.get("notice")
    t = translator(language(request))
    known = {"logout": "logout.done", "everywhere": "logout.everywhere_done"}
    return _login_page(request, notice=t(known[notice]) if notice in known else None)


async def _throttle(
    request: Request, ctx: AppContext, session: AsyncSession, email: str
) -> tuple[list[tuple[str, int]], str | None]:
    """The failure counters a sign-in attempt counts against, and why it must wait (None: it may try)."""
    keys = throttle_keys(email, _address(request, ctx))
    wait = await locked_for(session, keys)
    if wait is None:
        return keys, None
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    return keys, translator(language(request))("login.locked", minutes=minutes)


def _next_url(form: FormData) -> str:
    return safe_next(text(form, "next") or None, "") or "/dashboard/"


@router.post("/dashboard/login", include_in_schema=False, dependencies=[Depends(check_csrf)])
async def login(request: Request, ctx: ContextDep, session: SessionDep) -> Response:
    form = await request.form()
    email, password = text(form, "email").lower(), form.get("password")
    keys, locked = await _throttle(request, ctx, session, email)
    if locked:
        return _login_page(request, email=email, errors={"form": locked})
    user = await find_user(session, email) if email else None
    if not isinstance(password, str) or not verify_password(user.password_hash if user else None, password):
        await record_failure(session, keys)
        await session.commit()
        t = translator(language(request))
        return _login_page(request, email=email, errors={"form": t("login.failed")})
    assert user is not None
    await clear_failures(session, user.email)
    await purge_stale(session, utcnow())
    cookie = await start_session(session, user, replaces=request.cookies.get(SESSION_COOKIE))
    await session.commit()
    return _signed_in(request, cookie, _next_url(form))


@router.post("/dashboard/login/operator", include_in_schema=False, dependencies=[Depends(check_csrf)])
async def operator_login(request: Request, ctx: ContextDep, session: SessionDep) -> Response:
    form = await request.form()
    token = text(form, "token")
    t = translator(language(request))
    keys, locked = await _throttle(request, ctx, session, "")
    if locked:
        return _login_page(request, operator_errors={"form": locked})
    expected = ctx.settings.operator_token
    if not expected:
        return _login_page(request, operator_errors={"form": t("login.operator_disabled")})
    if not token or not hmac.compare_digest(token.encode(), expected.encode()):
        await record_failure(session, keys)
        await session.commit()
        return _login_page(request, operator_errors={"form": t("login.operator_failed")})
    cookie = await start_session(session, None, operator=True, replaces=request.cookies.get(SESSION_COOKIE))
    await session.commit()
    return _signed_in(request, cookie, _next_url(form))


@router.post("/dashboard/logout", include_in_schema=False, dependencies=[Depends(check_csrf)])
async def logout(request: Request, session: SessionDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await end_session(session, cookie)
        await session.commit()
    response = redirect("/dashboard/login?notice=logout")
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@router.post("/dashboard/logout-everywhere", include_in_schema=False, dependencies=[Depends(check_csrf)])
async def logout_everywhere(
    web: ActiveSession = Depends(require_session), session: AsyncSession = Depends(get_session)
) -> Response:
    await end_every_session(session, web.viewer)
    await session.commit()
    response = redirect("/dashboard/login?notice=everywhere")
    response.delete_cookie(SESSION_COOKIE, path="/dashboard")
    return response


@router.get("/dashboard/lang/{code}", include_in_schema=False)
async def switch_language(request: Request, code: str) -> Response:
    response = redirect(safe_next(request.query_params.get("next")))
    if code in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="lax",
            secure=secure_cookies(request),
            path="/dashboard",
        )
    return response


@router.get("/dashboard/", include_in_schema=False)
async def home(
    request: Request,
    web: ActiveSession = Depends(require_session),
    session: AsyncSession = Depends(get_session),
) -> Response:
    viewer = web.viewer
    if viewer.user is not None:
        rows = await visible_projects(session, viewer.user)
        if len(rows) == 1 and "list" not in request.query_params:
            return redirect(landing(rows[0].project.id, rows[0].role))
        return render(request, "home.html", {"rows": rows, "pager": None, "notice": None})
    page = page_number(request)
    stmt = (
        select(Project, Account)
        .join(Account, Account.id == Project.account_id)
        .order_by(Account.name, Project.name, Project.id)
        .limit(OPERATOR_PAGE_SIZE + 1)
        .offset((page - 1) * OPERATOR_PAGE_SIZE)
    )
    found = (await session.execute(stmt)).all()
    rows = [ProjectRole(project, account, "owner") for project, account in found[:OPERATOR_PAGE_SIZE]]
    pager = {
        "page": page,
        "has_next": len(found) > OPERATOR_PAGE_SIZE,
        "url": lambda n: f"/dashboard/?page={n}",
    }
    return render(request, "home.html", {"rows": rows, "pager": pager, "notice": None})
