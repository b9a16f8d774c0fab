"""Channels: sandbox and live numbers with status and quality, connecting one, Customer Setup Links."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kirem.api.responses import ApiError
from kirem.dashboard.auth import ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import field_errors, form_status, text
from kirem.dashboard.i18n import translator
from kirem.dashboard.web import language, render
from kirem.db.base import utcnow
from kirem.messaging.service import graph_and_token
from kirem.meta.client import MetaApiError, MetaUnavailable
from kirem.onboarding import service as onboarding
from kirem.tenancy.channels import create_channel
from kirem.tenancy.models import Channel
from kirem.tenancy.service import list_channels

router = APIRouter()
STAFF = require_role("owner", "developer")

QUALITY_TIMEOUT = 3.0
"""Seconds to wait for Meta's quality rating of a number; the page shows "unknown" after."""
QUALITY_TTL = 300.0
"""Seconds a rating (or Meta's silence) is kept: the page asks Meta at most this often per number."""
_qualities: dict[str, tuple[float, str | None]] = {}
HOURS = 3600


async def _quality(access: ProjectAccess, channel: Channel) -> str | None:
    """Meta's quality rating of an active number (GREEN, YELLOW, RED), None when Meta does not say."""
    if channel.status != "active":
        return None
    known = _qualities.get(channel.id)
    if known is not None and known[0] > time.monotonic():
        return known[1]
    graph, token = graph_and_token(access.ctx, access.tenant, channel)
    try:
        node = await asyncio.wait_for(
            graph.phone_number(channel.phone_number_id, token, {"fields": "quality_rating"}), QUALITY_TIMEOUT
        )
        rating = str(node["quality_rating"]) if node.get("quality_rating") else None
    except (MetaApiError, MetaUnavailable, TimeoutError):
        rating = None  # kept too: a Meta that does not answer must not slow every page down
    _qualities[channel.id] = (time.monotonic() + QUALITY_TTL, rating)
    return rating


async def _page(
    request: Request,
    access: ProjectAccess,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    link_errors: dict[str, str] | None = None,
    link_values: dict[str, Any] | None = None,
    connected: dict[str, Any] | None = None,
    created_link: dict[str, Any] | None = None,
) -> Response:
    channels = await list_channels(access.session, access.project.id)
    qualities = await asyncio.gather(*(_quality(access, channel) for channel in channels))
    now = utcnow()
    links = await onboarding.list_links(access.session, access.project.id)
    context = {
        "channels": list(zip(channels, qualities, strict=True)),
        "errors": errors or {},
        "values": values or {"verify": True, "subscribe_app": False},
        "link_errors": link_errors or {},
        "link_values": link_values or {"expires_hours": 168},
        "connected": connected,
        "created_link": created_link,
        "links": [onboarding.link_view(access.ctx.sealer, link, now) for link in links[:50]],
        "sandbox_enabled": access.ctx.settings.sandbox_enabled,
        "links_allowed": access.tenant.limits.customer_setup_links,
    }
    return render(request, "channels.html", context, form_status(errors, link_errors))


@router.get("/dashboard/p/{project_id}/channels")
async def channels_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return await _page(request, access)


async def _connect(
    request: Request, access: ProjectAccess, body: dict[str, Any], values: dict[str, Any]
) -> Response:
    try:
        result = await create_channel(access.ctx, access.session, access.account, access.project, body)
    except ApiError as exc:
        await access.recover()
        return await _page(request, access, errors=field_errors(exc), values=values)
    await access.session.commit()
    check = result.check.view() if result.check else None
    connected = {"name": result.channel.name, "number": result.channel.display_phone_number, "check": check}
    return await _page(request, access, connected=connected)


@router.post("/dashboard/p/{project_id}/channels", dependencies=[Depends(check_csrf)])
async def connect_live(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await request.form()
    body: dict[str, Any] = {
        "kind": "live",
        "name": text(form, "name"),
        "phone_number_id": text(form, "phone_number_id"),
        "waba_id": text(form, "waba_id"),
        "access_token": text(form, "access_token"),
        "verify": form.get("verify") == "on",
        "subscribe_app": form.get("subscribe_app") == "on",
    }
    if text(form, "display_phone_number"):
        body["display_phone_number"] = text(form, "display_phone_number")
    values = {k: v for k, v in body.items() if k != "access_token"}
    return await _connect(request, access, body, values)


@router.post("/dashboard/p/{project_id}/channels/sandbox", dependencies=[Depends(check_csrf)])
async def connect_sandbox(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await request.form()
    return await _connect(request, access, {"kind": "sandbox", "name": text(form, "name")}, {})


@router.post("/dashboard/p/{project_id}/channels/setup-links", dependencies=[Depends(check_csrf)])
async def create_setup_link(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await request.form()
    hours = text(form, "expires_hours")
    values: dict[str, Any] = {
        "client_name": text(form, "client_name"),
        "redirect_url": text(form, "redirect_url"),
        "coexistence": form.get("coexistence") == "on",
        "expires_hours": hours,
    }
    body = {k: v for k, v in values.items() if k != "expires_hours"}
    if hours.isascii() and hours.isdigit() and len(hours) <= 6:
        body["expires_in_seconds"] = int(hours) * HOURS
    elif hours:
        body["expires_in_seconds"] = hours  # the service names the field and its bounds
    try:
        link, url = await onboarding.create_link(access.ctx, access.session, access.tenant, body)
    except ApiError as exc:
        await access.recover()
        errors = field_errors(exc)
        if "expires_in_seconds" in errors:
            del errors["expires_in_seconds"]
            errors["expires_hours"] = translator(language(request))("channels.link_hours_range")
        return await _page(request, access, link_errors=errors, link_values=values)
    await access.session.commit()
    created = onboarding.link_view(access.ctx.sealer, link, utcnow(), url)
    return await _page(request, access, created_link=created)
