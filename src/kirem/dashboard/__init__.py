"""The dashboard at ``/dashboard``: server-rendered pages for owners, developers, agents and operators.

Each area module has ``router = APIRouter()`` with its pages under ``/dashboard/p/{project_id}/…``
and is listed in ``ROUTERS`` (one line per area). :func:`install` adds them, the static files and
the dashboard's error pages to the app.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from kirem.dashboard import (
    channels,
    deliveries,
    inbox,
    keys,
    login,
    logs,
    overview,
    settings,
    simulator,
    templates_page,
    user_routes,
    webhooks,
)
from kirem.dashboard.auth import CsrfRefused, LoginRequired, PageNotFound, login_url
from kirem.dashboard.i18n import translator
from kirem.dashboard.web import language, redirect, render

ROUTERS: list[APIRouter] = [
    login.router,
    overview.router,
    keys.router,
    channels.router,
    settings.router,
    webhooks.router,
    deliveries.router,
    logs.router,
    inbox.router,
    templates_page.router,
    simulator.router,
]

API_ROUTERS: list[APIRouter] = [user_routes.manage_users, user_routes.operator_users]
"""Public API routes about dashboard users (in the OpenAPI description)."""

STATIC = Path(__file__).parent / "static"


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return redirect(login_url(exc.next_url), 303)


async def _not_found(request: Request, exc: Exception) -> Response:
    t = translator(language(request))
    return render(
        request, "error.html", {"heading": t("error.not_found"), "text": t("error.not_found_text")}, 404
    )


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    t = translator(language(request))
    return render(request, "error.html", {"heading": t("error.csrf"), "text": t("error.csrf_text")}, 403)


def install(app: FastAPI) -> None:
    """Mount the dashboard: its routers (hidden from the OpenAPI description), static files, error pages."""
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    for router in API_ROUTERS:
        app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(PageNotFound, _not_found)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
