"""The sandbox simulator in the browser: act as a customer (any message type, a tap on a button or a
list row the business sent, a customer known only by username) or as the owner's phone (an echo, a
history chunk, contact changes), and watch the webhooks and deliveries that follow appear live.

Every action goes through the sandbox's own simulator services (the ones behind
``/sandbox/v1/inbound``, ``/echo``, ``/history``, ``/contacts``), limited to the project's own
sandbox numbers — so a dashboard user can only pretend to be a customer of their own test number.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Mount

from kirem.dashboard.auth import ProjectAccess, check_csrf, require_role
from kirem.dashboard.forms import text
from kirem.dashboard.live import change_stream
from kirem.dashboard.web import redirect, render
from kirem.db.scope import for_project
from kirem.delivery.models import Delivery
from kirem.inbound.models import Event
from kirem.messaging.models import MessageLog
from kirem.sandbox.coexistence import receive_contacts, receive_echo, receive_history
from kirem.sandbox.errors import MetaError
from kirem.sandbox.runtime import SandboxRuntime
from kirem.sandbox.simulator import receive_inbound
from kirem.tenancy.models import Channel

router = APIRouter()
STAFF = require_role("owner", "developer")
RECENT = 20
SANDBOX_PREFIX = "/sandbox"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
"""Sent with the sandbox's sample file of that type."""

Action = Callable[[AsyncSession, SandboxRuntime, Any], Awaitable[Any]]
ACTIONS: dict[str, Action] = {
    "customer": receive_inbound,
    "tap": receive_inbound,
    "echo": receive_echo,
    "history": receive_history,
    "contacts": receive_contacts,
}
EXAMPLE_HISTORY = {
    "phase": 0,
    "chunk_order": 1,
    "progress": 100,
    "threads": [
        {
            "id": "62812345678",
            "messages": [
                {"from": "customer", "text": "Ada stok?"},
                {"from": "business", "text": "Ada kak", "status": "DELIVERED"},
            ],
        }
    ],
}
EXAMPLE_CONTACTS = {"contacts": [{"phone_number": "62812345678", "full_name": "Budi Santoso"}]}
EXAMPLE_MESSAGE = {"type": "reaction", "reaction": {"message_id": "wamid.…", "emoji": "👍"}}


def sandbox_runtime(request: Request) -> SandboxRuntime | None:
    """The emulator mounted beside the API, or None when the sandbox is off."""
    for route in request.app.routes:
        if isinstance(route, Mount) and route.path == SANDBOX_PREFIX:
            runtime: SandboxRuntime = route.app.state.sandbox  # type: ignore[attr-defined]
            return runtime
    return None


async def _numbers(access: ProjectAccess) -> list[Channel]:
    stmt = for_project(Channel, access.project.id).where(
        Channel.kind == "sandbox", Channel.status == "active"
    )
    return list((await access.session.execute(stmt.order_by(Channel.created_at, Channel.id))).scalars())


def _chosen(request: Request, numbers: list[Channel], wanted: str | None = None) -> Channel | None:
    wanted = wanted or request.query_params.get("channel")
    return next((c for c in numbers if c.id == wanted), numbers[0] if numbers else None)


def _choices(log: MessageLog) -> list[dict[str, str]]:
    """The buttons and list rows of an interactive message the business sent, as replies to tap."""
    interactive = (log.request or {}).get("interactive") or {}
    action = interactive.get("action") or {}
    found = [
        {"kind": "button_reply", "id": str(reply.get("id", "")), "title": str(reply.get("title", ""))}
        for button in action.get("buttons") or []
        if isinstance(button, dict) and isinstance(reply := button.get("reply"), dict)
    ]
    for section in action.get("sections") or []:
        for row in (section or {}).get("rows") or []:
            if isinstance(row, dict):
                found.append(
                    {
                        "kind": "list_reply",
                        "id": str(row.get("id", "")),
                        "title": str(row.get("title", "")),
                        "description": str(row.get("description", "")),
                    }
                )
    return [choice for choice in found if choice["id"] and choice["title"]]


async def _tappable(access: ProjectAccess, channel: Channel) -> list[dict[str, Any]]:
    stmt = (
        for_project(MessageLog, access.project.id)
        .where(
            MessageLog.channel_id == channel.id,
            MessageLog.direction == "outbound",
            MessageLog.type == "interactive",
            MessageLog.message_id.is_not(None),
        )
        .order_by(MessageLog.created_at.desc())
        .limit(5)
    )
    found = []
    for log in (await access.session.execute(stmt)).scalars():
        choices = _choices(log)
        if choices:
            body = ((log.request or {}).get("interactive") or {}).get("body") or {}
            customer = log.recipient or log.recipient_user_id or ""
            found.append(
                {"wamid": log.message_id, "to": customer, "text": body.get("text", ""), "choices": choices}
            )
    return found


async def _activity(session: AsyncSession, project_id: str) -> list[dict[str, Any]]:
    """The latest events with how their deliveries stand."""
    events = list(
        (
            await session.execute(
                for_project(Event, project_id)
                .order_by(Event.created_at.desc(), Event.id.desc())
                .limit(RECENT)
            )
        ).scalars()
    )
    deliveries: dict[str, list[Delivery]] = {event.id: [] for event in events}
    if events:
        stmt = select(Delivery).where(Delivery.event_id.in_(list(deliveries)))
        for delivery in (await session.execute(stmt)).scalars():
            deliveries[delivery.event_id].append(delivery)
    return [
        {
            "id": event.id,
            "type": event.type,
            "at": event.created_at.strftime("%H:%M:%S"),
            "deliveries": [{"status": d.status, "target_id": d.target_id} for d in deliveries[event.id]],
        }
        for event in events
    ]


async def _page(
    request: Request, access: ProjectAccess, *, error: str = "", form: str = "", status_code: int = 200
) -> Response:
    numbers = await _numbers(access)
    channel = _chosen(request, numbers)
    context = {
        "enabled": sandbox_runtime(request) is not None,
        "numbers": numbers,
        "channel": channel,
        "tappable": await _tappable(access, channel) if channel is not None else [],
        "activity": await _activity(access.session, access.project.id),
        "error": error,
        "error_form": form,
        "examples": {
            "history": json.dumps(EXAMPLE_HISTORY, indent=1, ensure_ascii=False),
            "contacts": json.dumps(EXAMPLE_CONTACTS, indent=1, ensure_ascii=False),
            "message": json.dumps(EXAMPLE_MESSAGE, ensure_ascii=False),
        },
    }
    return render(request, "sandbox/simulator.html", context, status_code)


@router.get("/dashboard/p/{project_id}/sandbox")
async def simulator_page(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    return await _page(request, access)


class FormProblem(ValueError):
    """The form itself cannot make a simulator body (before the simulator checks it)."""


def _json_object(value: str, field: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise FormProblem(f"{field}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(parsed, dict):
        raise FormProblem(f"{field}: must be a JSON object")
    return parsed


def _customer_message(values: dict[str, str]) -> dict[str, Any]:
    kind = values["type"]
    if kind == "text":
        return {"type": "text", "text": {"body": values["text"]}}
    if kind == "location":
        try:
            latitude, longitude = float(values["latitude"]), float(values["longitude"])
        except ValueError:
            raise FormProblem("latitude and longitude: numbers such as -6.2 and 106.8") from None
        return {"type": "location", "location": {"latitude": latitude, "longitude": longitude}}
    if kind in MEDIA_TYPES:
        caption = (
            {"caption": values["text"]} if values["text"] and kind in ("image", "video", "document") else {}
        )
        return {"type": kind, kind: caption}
    return _json_object(values["json"], "message")


def simulator_body(action: str, phone_number_id: str, values: dict[str, str]) -> dict[str, Any]:
    """The body the sandbox simulator takes for one of the page's forms."""
    body: dict[str, Any] = {"phone_number_id": phone_number_id}
    if action in ("customer", "tap"):
        if values["from"]:
            body["from"] = values["from"]
        if values["user_id"]:
            body["user_id"] = values["user_id"]
        if values["username"]:
            body["username"] = values["username"].lstrip("@")
        if values["profile_name"]:
            body["profile_name"] = values["profile_name"]
    if action == "customer":
        body["message"] = _customer_message(values)
    elif action == "tap":
        reply: dict[str, str] = {"id": values["reply_id"], "title": values["reply_title"]}
        if values["reply_description"]:
            reply["description"] = values["reply_description"]
        kind = (
            values["reply_kind"] if values["reply_kind"] in ("button_reply", "list_reply") else "button_reply"
        )
        body["message"] = {
            "type": "interactive",
            "interactive": {"type": kind, kind: reply},
            "context": {"id": values["context"]},
        }
    elif action == "echo":
        body.update({"to": values["to"], "message": {"type": "text", "text": {"body": values["text"]}}})
    else:
        body.update({k: v for k, v in _json_object(values["json"], action).items() if k != "phone_number_id"})
    return body


FIELDS = (
    "from", "user_id", "username", "profile_name", "type", "text", "latitude", "longitude", "json", "to",
    "reply_kind", "reply_id", "reply_title", "reply_description", "context",
)  # fmt: skip


@router.post("/dashboard/p/{project_id}/sandbox/{action}", dependencies=[Depends(check_csrf)])
async def simulate(action: str, request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    runtime = sandbox_runtime(request)
    run = ACTIONS.get(action)
    form = await request.form()
    numbers = await _numbers(access)
    channel = _chosen(request, numbers, text(form, "channel"))
    if run is None or runtime is None or channel is None:
        return await _page(
            request, access, error="The sandbox is off or has no number here.", status_code=404
        )
    values = {name: text(form, name) for name in FIELDS}
    try:
        body = simulator_body(action, channel.phone_number_id, values)
        async with runtime.database.transaction() as session:
            await run(session, runtime, body)
    except FormProblem as exc:
        return await _page(request, access, error=str(exc), form=action, status_code=400)
    except MetaError as exc:
        detail = f" ({exc.details})" if exc.details else ""
        return await _page(request, access, error=f"{exc.message}{detail}", form=action, status_code=400)
    runtime.outbox.wake()
    return redirect(f"/dashboard/p/{access.project.id}/sandbox?channel={channel.id}&done={action}")


async def _fingerprint(session: AsyncSession, project_id: str) -> tuple[Any, ...]:
    events = await session.scalar(select(func.max(Event.created_at)).where(Event.project_id == project_id))
    deliveries = await session.scalar(
        select(func.max(Delivery.updated_at)).where(Delivery.project_id == project_id)
    )
    return events, deliveries


@router.get("/dashboard/p/{project_id}/sandbox-stream")
async def simulator_stream(request: Request, access: ProjectAccess = Depends(STAFF)) -> Response:
    """``changed`` whenever an event arrives or a delivery moves."""
    project_id = access.project.id
    return await change_stream(request, access, lambda session: _fingerprint(session, project_id))
