"""Message templates (list with review status, create with a live preview, delete) and the
business profile, through the same services as ``/v1/templates`` and ``/v1/profile``.

The create form describes one template (text header, body with ``{{n}}`` variables and their
examples, footer, quick-reply and URL buttons); the service checks it with Meta's rules and its
field errors (``components[1].text``) are shown beside the form field that made that component.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from kirem.api.responses import ApiError
from kirem.dashboard.auth import ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import field_errors, text
from kirem.dashboard.meta_errors import refusal_of
from kirem.dashboard.web import redirect, render
from kirem.db.scope import for_project
from kirem.messaging import profile, templates
from kirem.messaging.profile_rules import VERTICALS
from kirem.messaging.template_rules import CATEGORIES
from kirem.meta.client import MetaApiError, MetaUnavailable
from kirem.tenancy.models import Channel

router = APIRouter()
STAFF = require_role("owner", "developer")
PROFILE_FORM_FIELDS = ("about", "address", "description", "email", "vertical")
FORM_FIELDS = (
    "name", "category", "language", "header", "body", "body_examples", "footer", "quick_replies",
    "url_text", "url",
)  # fmt: skip


async def _channels(access: ProjectAccess) -> list[Channel]:
    stmt = for_project(Channel, access.project.id).where(Channel.status == "active")
    return list((await access.session.execute(stmt.order_by(Channel.created_at, Channel.id))).scalars())


def _chosen(request: Request, channels: list[Channel]) -> Channel | None:
    wanted = request.query_params.get("channel")
    return next((c for c in channels if c.id == wanted), channels[0] if channels else None)


def _base(access: ProjectAccess, channel: Channel | None) -> str:
    suffix = f"?channel={channel.id}" if channel is not None else ""
    return f"/dashboard/p/{access.project.id}/templates{suffix}"


@router.get("/dashboard/p/{project_id}/templates")
async def templates_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    channels = await _channels(access)
    channel = _chosen(request, channels)
    found: list[dict[str, Any]] = []
    problem = ""
    if channel is not None:
        try:
            found = await templates.list_templates(
                access.ctx, access.session, access.tenant, status=None, channel_id=channel.id
            )
        except (ApiError, MetaApiError, MetaUnavailable) as exc:
            problem = refusal_of(exc)
    context = {"channels": channels, "channel": channel, "templates": found, "problem": problem}
    return render(request, "content/templates.html", context)


def _examples(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


def template_body(values: dict[str, str]) -> tuple[dict[str, Any], dict[int, str]]:
    """Meta's create-template body for the form, and which form field made each component."""
    components: list[dict[str, Any]] = []
    made_by: dict[int, str] = {}
    if values["header"]:
        made_by[len(components)] = "header"
        components.append({"type": "HEADER", "format": "TEXT", "text": values["header"]})
    made_by[len(components)] = "body"
    body: dict[str, Any] = {"type": "BODY", "text": values["body"]}
    examples = _examples(values["body_examples"])
    if examples:
        body["example"] = {"body_text": [examples]}
    components.append(body)
    if values["footer"]:
        made_by[len(components)] = "footer"
        components.append({"type": "FOOTER", "text": values["footer"]})
    buttons: list[dict[str, Any]] = [
        {"type": "QUICK_REPLY", "text": label} for label in _examples(values["quick_replies"])
    ]
    if values["url_text"] or values["url"]:
        buttons.append({"type": "URL", "text": values["url_text"], "url": values["url"]})
    if buttons:
        made_by[len(components)] = "quick_replies"
        components.append({"type": "BUTTONS", "buttons": buttons})
    return {
        "name": values["name"],
        "category": values["category"],
        "language": values["language"],
        "components": components,
    }, made_by


_COMPONENT_FIELD = re.compile(r"^components\[(\d+)\](.*)$")


def form_errors(errors: dict[str, str], made_by: dict[int, str]) -> dict[str, str]:
    """The service's field errors keyed by the form field that made the component they name."""
    placed: dict[str, str] = {}
    for key, message in errors.items():
        found = _COMPONENT_FIELD.match(key)
        field = made_by.get(int(found.group(1)), "form") if found else key
        if found and "example" in found.group(2):
            field = "body_examples"
        if found and "url" in found.group(2):
            field = "url"
        placed[field if field in FORM_FIELDS else "form"] = message
    return placed


def _values(form: FormData) -> dict[str, str]:
    values = {name: text(form, name) for name in FORM_FIELDS}
    values["name"] = values["name"].lower()
    values["category"] = values["category"] or "UTILITY"
    values["language"] = values["language"] or "en_US"
    return values


def _channel_page(
    request: Request,
    template: str,
    channels: list[Channel],
    channel: Channel | None,
    context: dict[str, Any],
    extra: dict[str, Any],
) -> Response:
    """A page about one of the project's active channels; ``extra`` may hold errors and a status code."""
    page = {"channels": channels, "channel": channel, **context, "errors": extra.pop("errors", {})}
    return render(request, template, page, extra.pop("status_code", 200))


def _new_page(
    request: Request, access: ProjectAccess, channel: Channel | None, channels: list[Channel], **extra: Any
) -> Response:
    values = extra.pop("values", None) or {name: "" for name in FORM_FIELDS} | {
        "category": "UTILITY",
        "language": "id",
    }
    context = {"categories": CATEGORIES, "values": values}
    return _channel_page(request, "content/template_new.html", channels, channel, context, extra)


@router.get("/dashboard/p/{project_id}/templates/new")
async def new_template_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    channels = await _channels(access)
    return _new_page(request, access, _chosen(request, channels), channels)


@router.post("/dashboard/p/{project_id}/templates/new", dependencies=[Depends(check_csrf)])
async def create_template_form(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    channels = await _channels(access)
    channel = _chosen(request, channels)
    values = _values(await request.form())
    body, made_by = template_body(values)
    try:
        await templates.create_template(
            access.ctx, access.session, access.tenant, body, channel_id=channel.id if channel else None
        )
    except ApiError as exc:
        errors = form_errors(field_errors(exc), made_by)
        errors.setdefault("form", exc.message)
        return _new_page(
            request, access, channel, channels, values=values, errors=errors, status_code=exc.status
        )
    except (MetaApiError, MetaUnavailable) as exc:
        errors = {"form": refusal_of(exc)}
        return _new_page(request, access, channel, channels, values=values, errors=errors, status_code=502)
    separator = "&" if channel is not None else "?"
    return redirect(f"{_base(access, channel)}{separator}created={values['name']}")


@router.post("/dashboard/p/{project_id}/templates/{name}/delete", dependencies=[Depends(check_csrf)])
async def delete_template_form(
    name: str, request: Request, access: ProjectAccess = Depends(STAFF)
) -> Response:
    channels = await _channels(access)
    channel = _chosen(request, channels)
    separator = "&" if channel is not None else "?"
    try:
        await templates.delete_template(
            access.ctx, access.session, access.tenant, name, channel_id=channel.id if channel else None
        )
    except (ApiError, MetaApiError, MetaUnavailable):
        return redirect(f"{_base(access, channel)}{separator}not_deleted={name}")
    return redirect(f"{_base(access, channel)}{separator}deleted={name}")


# Business profile -------------------------------------------------------------------------------


async def _profile_page(
    request: Request, access: ProjectAccess, *, values: dict[str, Any] | None = None, **extra: Any
) -> Response:
    channels = await _channels(access)
    channel = _chosen(request, channels)
    problem = ""
    if values is None and channel is not None:
        try:
            values = await profile.get_profile(
                access.ctx, access.session, access.tenant, channel_id=channel.id
            )
        except (ApiError, MetaApiError, MetaUnavailable) as exc:
            problem = refusal_of(exc)
    values = values or {}
    websites = values.get("websites") or []
    context = {
        "values": {**{name: values.get(name) or "" for name in PROFILE_FORM_FIELDS}, "websites": websites},
        "verticals": VERTICALS,
        "problem": problem,
    }
    return _channel_page(request, "content/profile.html", channels, channel, context, extra)


@router.get("/dashboard/p/{project_id}/profile")
async def profile_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return await _profile_page(request, access)


@router.post("/dashboard/p/{project_id}/profile", dependencies=[Depends(check_csrf)])
async def update_profile_form(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    form = await request.form()
    channels = await _channels(access)
    channel = _chosen(request, channels)
    update: dict[str, Any] = {"messaging_product": "whatsapp"}
    update.update({name: text(form, name) for name in PROFILE_FORM_FIELDS if text(form, name)})
    update["websites"] = [site for site in (text(form, "website1"), text(form, "website2")) if site]
    shown = {**update, "websites": update["websites"]}
    try:
        await profile.update_profile(
            access.ctx, access.session, access.tenant, update, channel_id=channel.id if channel else None
        )
    except ApiError as exc:
        return await _profile_page(
            request, access, values=shown, errors=field_errors(exc), status_code=exc.status
        )
    except (MetaApiError, MetaUnavailable) as exc:
        return await _profile_page(
            request, access, values=shown, errors={"form": refusal_of(exc)}, status_code=502
        )
    suffix = f"?channel={channel.id}&saved=1" if channel is not None else "?saved=1"
    return redirect(f"/dashboard/p/{access.project.id}/profile{suffix}")
