"""Rendering dashboard pages: the Jinja2 environment, the shared context, and security headers."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kirem.dashboard.i18n import LANGUAGE_NAMES, LANGUAGES, pick_language, translator
from kirem.dashboard.nav import nav_for, project_url

TEMPLATES = Path(__file__).parent / "templates"
CSRF_COOKIE = "kirem_csrf"
"""Before sign-in (no session yet) forms carry this cookie's value: a double-submit token."""
LANG_COOKIE = "kirem_lang"

SECURITY_HEADERS = {
    # scripts only from /dashboard/static (no inline script); inline style attributes are allowed
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["project_url"] = project_url


def language(request: Request) -> str:
    lang = getattr(request.state, "dashboard_lang", None)
    if lang is None:
        lang = pick_language(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))
        request.state.dashboard_lang = lang
    return lang


def secure_cookies(request: Request) -> bool:
    """Cookies are Secure when the page came over https or the server runs in production mode."""
    return request.url.scheme == "https" or request.app.state.ctx.settings.env == "production"


def csrf_token(request: Request) -> tuple[str, bool]:
    """The token forms on this page carry, and whether the pre-sign-in cookie must be set for it."""
    web = getattr(request.state, "web_session", None)
    if web is not None:
        return web.csrf_token, False
    cookie = request.cookies.get(CSRF_COOKIE)
    if cookie:
        return cookie, False
    return secrets.token_urlsafe(32), True


def base_context(request: Request) -> dict[str, Any]:
    lang = language(request)
    web = getattr(request.state, "web_session", None)
    access = getattr(request.state, "access", None)
    token, _ = csrf_token(request)
    project = access.project if access is not None else None
    role = access.role if access is not None else None
    return {
        "request": request,
        "user": web.viewer if web is not None else None,
        "project": project,
        "account": access.account if access is not None else None,
        "role": role,
        "projects": access.projects if access is not None else [],
        "csrf_token": token,
        "lang": lang,
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "t": translator(lang),
        "nav": nav_for(project.id, role, request.url.path) if project is not None and role else [],
        "current_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    }


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """A page: ``template`` (extending ``base.html``) with the shared context and ``context``."""
    values = base_context(request)
    values.update(context or {})
    token, new_cookie = csrf_token(request)
    if new_cookie:
        values["csrf_token"] = token
    response = HTMLResponse(environment.get_template(template).render(values), status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=secure_cookies(request),
            path="/dashboard",
        )
    return response


def redirect(url: str, status_code: int = 303) -> RedirectResponse:
    """After a form: see the result with a GET (303), so a reload does not post again."""
    response = RedirectResponse(url, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def safe_next(value: str | None, default: str = "/dashboard/") -> str:
    """A local dashboard path to go back to (never another site: no open redirect)."""
    if value and value.startswith("/dashboard") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def page_number(request: Request, name: str = "page") -> int:
    """A 1-based page number from the query (anything else is page 1)."""
    value = request.query_params.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) <= 6 and int(value) > 0 else 1
