"""The inbox: conversations by status and channel, a timeline, replies aware of the 24-hour window
and of human handover, status changes, search, and live updates over Server-Sent Events.

Agents see this area only. Replies go through the same service as ``POST /v1/conversations/{id}/
messages`` (author ``dashboard``), so the window, handover and channel checks are the API's own.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError
from kirem.conversations import service
from kirem.conversations.models import CONVERSATION_STATUSES, Conversation
from kirem.customers import identifier
from kirem.dashboard.auth import ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import field_errors, text
from kirem.dashboard.live import change_stream
from kirem.dashboard.meta_errors import refusal_of
from kirem.dashboard.web import page_number, redirect, render
from kirem.db.scope import for_project
from kirem.messaging.models import MessageLog
from kirem.messaging.templates import list_templates
from kirem.meta.client import MetaApiError, MetaUnavailable
from kirem.tenancy.models import Channel

router = APIRouter()
EVERYONE = require_role("owner", "developer", "agent")
PAGE_SIZE = 25
TIMELINE_SIZE = 50
MAX_TEXT = 4096


def _base(access: ProjectAccess) -> str:
    return f"/dashboard/p/{access.project.id}/inbox"


async def _channels(access: ProjectAccess) -> list[Channel]:
    stmt = for_project(Channel, access.project.id).order_by(Channel.created_at, Channel.id)
    return list((await access.session.execute(stmt)).scalars())


def _search(query: str) -> dict[str, str]:
    """A phone number or BSUID searches by customer; anything else by username."""
    if not query:
        return {}
    return {"customer": query} if identifier(query).known else {"username": query}


async def _conversation_list(request: Request, access: ProjectAccess) -> dict[str, Any]:
    params = request.query_params
    status = params.get("status") or None
    channel_id = params.get("channel") or None
    query = (params.get("q") or "").strip()
    page = page_number(request)
    errors: dict[str, str] = {}
    try:
        total, rows = await service.list_conversations(
            access.session,
            access.project.id,
            status=status if status in CONVERSATION_STATUSES else None,
            channel_id=channel_id,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
            **_search(query),
        )
    except ApiError as exc:
        errors = field_errors(exc)
        total, rows = 0, []
    return {
        "conversations": [service.conversation_view(row) for row in rows],
        "total": total,
        "page": page,
        "has_next": page * PAGE_SIZE < total,
        "filters": {"status": status or "", "channel": channel_id or "", "q": query},
        "statuses": CONVERSATION_STATUSES,
        "channels": await _channels(access),
        "search_errors": errors,
    }


@router.get("/dashboard/p/{project_id}/inbox")
async def inbox_page(request: Request, access: ProjectAccess = Depends(EVERYONE)) -> Response:
    context = await _conversation_list(request, access)
    return render(request, "inbox/list.html", {**context, "current": None})


async def _approved_templates(access: ProjectAccess, channel_id: str) -> tuple[list[dict[str, Any]], str]:
    """The channel's approved templates for a closed window, or why they could not be listed."""
    try:
        found = await list_templates(
            access.ctx, access.session, access.tenant, status="APPROVED", channel_id=channel_id
        )
    except (ApiError, MetaApiError, MetaUnavailable) as exc:
        return [], refusal_of(exc)
    return [_template_choice(t) for t in found], ""


def _template_choice(template: dict[str, Any]) -> dict[str, Any]:
    """A template as the reply box offers it: name, language and how many body variables it takes."""
    body: dict[str, Any] = next(
        (c for c in template["components"] if str(c.get("type", "")).upper() == "BODY"), {}
    )
    body_text = str(body.get("text") or "")
    count = sum(1 for n in range(1, 101) if "{{" + str(n) + "}}" in body_text)
    return {
        "name": template["name"],
        "language": template["language"],
        "body": body_text,
        "variables": count,
        "value": f"{template['name']}|{template['language']}",
    }


async def _conversation_context(
    request: Request, access: ProjectAccess, conversation_id: str
) -> dict[str, Any]:
    conversation = await service.get_conversation(access.session, access.project.id, conversation_id)
    older = page_number(request, "older") - 1
    total, entries = await service.latest_timeline(
        access.session, access.project.id, conversation, limit=TIMELINE_SIZE, back=older
    )
    view = service.conversation_view(conversation)
    templates: list[dict[str, Any]] = []
    templates_error = ""
    if not view["window_open"]:
        templates, templates_error = await _approved_templates(access, conversation.channel_id)
    return {
        "current": view,
        "timeline": [service.timeline_entry_view(entry) for entry in entries],
        "older_url": (
            f"{_base(access)}/{conversation.id}?older={older + 2}"
            if total > TIMELINE_SIZE * (older + 1)
            else None
        ),
        "newer_url": f"{_base(access)}/{conversation.id}?older={older}" if older > 0 else None,
        "templates": templates,
        "templates_error": templates_error,
    }


async def _conversation_page(
    request: Request,
    access: ProjectAccess,
    conversation_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    listing = await _conversation_list(request, access)
    try:
        detail = await _conversation_context(request, access, conversation_id)
    except ApiError:
        return render(request, "inbox/list.html", {**listing, "current": None, "missing": True}, 404)
    context = {**listing, **detail, "errors": errors or {}, "values": values or {}}
    return render(request, "inbox/conversation.html", context, status_code)


@router.get("/dashboard/p/{project_id}/inbox/{conversation_id}")
async def conversation_page(
    conversation_id: str, request: Request, access: ProjectAccess = Depends(EVERYONE)
) -> Response:
    return await _conversation_page(request, access, conversation_id)


def _reply_body(form_values: dict[str, str], variables: list[str]) -> dict[str, Any]:
    """The message the reply box describes: free text, or an approved template with its variables."""
    if form_values["kind"] != "template":
        return {"type": "text", "text": {"body": form_values["text"]}}
    name, _, language = form_values["template"].partition("|")
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if variables:
        parameters = [{"type": "text", "text": value} for value in variables]
        template["components"] = [{"type": "body", "parameters": parameters}]
    return {"type": "template", "template": template}


def _reply_errors(form_values: dict[str, str]) -> dict[str, str]:
    if form_values["kind"] == "template":
        return {} if "|" in form_values["template"] else {"template": "choose an approved template"}
    if not form_values["text"]:
        return {"text": "is required"}
    if len(form_values["text"]) > MAX_TEXT:
        return {"text": f"at most {MAX_TEXT} characters"}
    return {}


@router.post("/dashboard/p/{project_id}/inbox/{conversation_id}/reply", dependencies=[Depends(check_csrf)])
async def reply_form(
    conversation_id: str, request: Request, access: ProjectAccess = Depends(EVERYONE)
) -> Response:
    form = await request.form()
    values = {
        "kind": text(form, "kind") or "text",
        "text": text(form, "text"),
        "template": text(form, "template"),
        "force": "1" if text(form, "force") else "",
    }
    variables = [v if isinstance(v, str) else "" for v in form.getlist("variable")]
    errors = _reply_errors(values)
    if not errors:
        try:
            await service.reply(
                access.ctx,
                access.session,
                access.tenant,
                conversation_id,
                _reply_body(values, variables),
                author="dashboard",
                force=bool(values["force"]),
            )
        except ApiError as exc:
            await access.session.rollback()
            await access.recover()
            errors = field_errors(exc)
            status_code = exc.status
        except (MetaApiError, MetaUnavailable) as exc:
            await access.session.rollback()
            await access.recover()
            errors, status_code = {"form": refusal_of(exc)}, 502
        else:
            await access.session.commit()
            return redirect(f"{_base(access)}/{conversation_id}?sent=1#reply")
    else:
        status_code = 400
    return await _conversation_page(
        request, access, conversation_id, errors=errors, values=values, status_code=status_code
    )


@router.post("/dashboard/p/{project_id}/inbox/{conversation_id}/status", dependencies=[Depends(check_csrf)])
async def status_form(
    conversation_id: str, request: Request, access: ProjectAccess = Depends(EVERYONE)
) -> Response:
    form = await request.form()
    try:
        await service.set_status(access.session, access.project.id, conversation_id, text(form, "status"))
    except ApiError as exc:
        await access.recover()
        return await _conversation_page(
            request, access, conversation_id, errors=field_errors(exc), status_code=exc.status
        )
    await access.session.commit()
    return redirect(f"{_base(access)}/{conversation_id}?updated=1")


async def _fingerprint(
    session: AsyncSession, project_id: str, conversation_id: str | None
) -> tuple[Any, ...]:
    """What changes when the inbox does: the newest conversation activity and the open timeline."""
    newest = await session.scalar(
        select(func.max(Conversation.updated_at)).where(Conversation.project_id == project_id)
    )
    if not conversation_id:
        return (newest,)
    timeline = (
        await session.execute(
            select(func.count(), func.max(MessageLog.updated_at)).where(
                MessageLog.project_id == project_id, MessageLog.conversation_id == conversation_id
            )
        )
    ).one()
    return (newest, *timeline)


@router.get("/dashboard/p/{project_id}/inbox-stream")
async def inbox_stream(request: Request, access: ProjectAccess = Depends(EVERYONE)) -> Response:
    """``changed`` whenever a conversation or the open timeline moves."""
    project_id = access.project.id
    conversation_id = request.query_params.get("conversation") or None
    return await change_stream(
        request, access, lambda session: _fingerprint(session, project_id, conversation_id)
    )
