"""Delivery and attempt logs, and replay: one delivery, one event, or many by filter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.db.scope import for_project, get_owned
from kirem.delivery.models import Delivery, DeliveryAttempt
from kirem.delivery.replay import replay_event, requeue
from kirem.inbound.models import Event
from kirem.kit.enums import DeliveryStatus
from kirem.kit.errors import Conflict, found
from kirem.kit.paging import counted_page, in_window, listing, newest_listing, rows_of, total_of
from kirem.kit.params import Window, iso, parse_bool
from kirem.kit.views import view_of
from kirem.routing.conditions import EVENT_TYPES
from kirem.routing.models import WebhookTarget

DELIVERY_STATUSES: tuple[str, ...] = tuple(DeliveryStatus)
MAX_BULK_REPLAY = 10_000
DELIVERY_FIELDS = (
    "id event_id event target_id url status attempts next_attempt_at last_status_code last_error"
    " created_at completed_at"
)
ATTEMPT_FIELDS = (
    "id delivery_id event_id event target_id url status_code duration_ms is_success attempt error"
    " response_body request_headers created_at"
)
EVENT_FIELDS = "id event channel_id created_at error data"


def delivery_view(delivery: Delivery, url: str | None = None) -> dict[str, Any]:
    pending = delivery.status == DeliveryStatus.PENDING
    return view_of(
        delivery,
        DELIVERY_FIELDS,
        event=delivery.event_type,
        url=url,
        next_attempt_at=iso(delivery.next_attempt_at) if pending else None,
    )


def attempt_view(attempt: DeliveryAttempt) -> dict[str, Any]:
    return view_of(attempt, ATTEMPT_FIELDS, event=attempt.event_type)


def event_view(event: Event) -> dict[str, Any]:
    return view_of(event, EVENT_FIELDS, event=event.type)


@dataclass(frozen=True)
class DeliveryFilter:
    status: str | None = None
    is_success: bool | None = None
    target_id: str | None = None
    event: str | None = None
    event_id: str | None = None


def parse_filter(params: dict[str, str | None], errors: dict[str, str]) -> DeliveryFilter:
    status, event = params.get("status"), params.get("event")
    if status and status not in DELIVERY_STATUSES:
        errors["status"] = f"must be one of {', '.join(DELIVERY_STATUSES)}"
    if event and event not in EVENT_TYPES:
        errors["event"] = f"must be one of {', '.join(EVENT_TYPES)}"
    return DeliveryFilter(
        status=status or None,
        is_success=parse_bool("is_success", params.get("is_success"), errors),
        target_id=params.get("target_id") or None,
        event=event or None,
        event_id=params.get("event_id") or None,
    )


def _filtered(project_id: str, flt: DeliveryFilter, window: Window) -> Select[Delivery]:
    stmt = for_project(Delivery, project_id)
    if flt.status:
        stmt = stmt.where(Delivery.status == flt.status)
    if flt.is_success is True:
        stmt = stmt.where(Delivery.status == DeliveryStatus.SUCCEEDED)
    elif flt.is_success is False:
        stmt = stmt.where(
            Delivery.status.in_((DeliveryStatus.FAILED, DeliveryStatus.PENDING)), Delivery.attempts > 0
        )
    if flt.target_id:
        stmt = stmt.where(Delivery.target_id == flt.target_id)
    if flt.event:
        stmt = stmt.where(Delivery.event_type == flt.event)
    if flt.event_id:
        stmt = stmt.where(Delivery.event_id == flt.event_id)
    stmt = in_window(stmt, Delivery.created_at, window)
    return stmt


async def list_deliveries(
    session: AsyncSession, project_id: str, flt: DeliveryFilter, window: Window
) -> dict[str, Any]:
    stmt = _filtered(project_id, flt, window)
    page = (
        stmt.add_columns(WebhookTarget.url)
        .join(WebhookTarget, WebhookTarget.id == Delivery.target_id)
        .order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(window.limit)
        .offset(window.offset)
    )
    total, rows = await counted_page(session, stmt, page, offset=window.offset)
    deliveries = [delivery_view(d, url) for d, url in rows]
    return listing("deliveries", deliveries, total=total, limit=window.limit, offset=window.offset)


async def get_delivery(session: AsyncSession, project_id: str, delivery_id: str) -> dict[str, Any]:
    delivery = found(await get_owned(session, Delivery, delivery_id, project_id), "Delivery")
    target = await session.get(WebhookTarget, delivery.target_id)
    attempts = (
        await session.execute(
            for_project(DeliveryAttempt, project_id)
            .where(DeliveryAttempt.delivery_id == delivery.id)
            .order_by(DeliveryAttempt.created_at, DeliveryAttempt.attempt)
        )
    ).scalars()
    return {
        **delivery_view(delivery, target.url if target else None),
        "attempt_log": [attempt_view(a) for a in attempts],
    }


async def attempt_logs(
    session: AsyncSession,
    project_id: str,
    window: Window,
    *,
    is_success: bool | None,
    event: str | None,
    target_id: str | None,
) -> dict[str, Any]:
    stmt = for_project(DeliveryAttempt, project_id)
    if is_success is not None:
        stmt = stmt.where(DeliveryAttempt.is_success.is_(is_success))
    if event:
        stmt = stmt.where(DeliveryAttempt.event_type == event)
    if target_id:
        stmt = stmt.where(DeliveryAttempt.target_id == target_id)
    stmt = in_window(stmt, DeliveryAttempt.created_at, window)
    newest = (DeliveryAttempt.created_at, DeliveryAttempt.id)
    return await newest_listing(session, stmt, newest, window, "logs", attempt_view)


async def _enabled_target(session: AsyncSession, delivery: Delivery) -> None:
    target = await session.get(WebhookTarget, delivery.target_id)
    if target is None or not target.enabled:
        raise Conflict(
            "The delivery's target is disabled: enable it (PATCH /v1/webhooks/targets/{id}) and replay again",
            {"target_id": delivery.target_id},
        )


async def replay_delivery(session: AsyncSession, project_id: str, delivery_id: str) -> int:
    delivery = found(await get_owned(session, Delivery, delivery_id, project_id), "Delivery")
    if delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0:
        return 0
    await _enabled_target(session, delivery)
    return await requeue(session, [delivery])


async def replay_event_by_id(session: AsyncSession, project_id: str, event_id: str) -> int:
    return await replay_event(session, found(await get_owned(session, Event, event_id, project_id), "Event"))


def _bulk_replay_selection(
    project_id: str, retention_days: int, flt: DeliveryFilter, window: Window, now: datetime
) -> Select[Delivery]:
    """The deliveries a bulk replay puts back: matching, target enabled now, within the retention."""
    oldest = now - timedelta(days=retention_days)
    since = max(window.since or oldest, oldest)
    return (
        _filtered(project_id, flt, Window(since, window.until, window.limit, 0))
        .join(WebhookTarget, WebhookTarget.id == Delivery.target_id)
        .where(WebhookTarget.enabled.is_(True))
        .where(~((Delivery.status == DeliveryStatus.PENDING) & (Delivery.attempts == 0)))
        .limit(MAX_BULK_REPLAY)
    )


async def count_bulk_replay(
    session: AsyncSession, project_id: str, retention_days: int, flt: DeliveryFilter, window: Window
) -> int:
    """How many deliveries :func:`bulk_replay` would requeue now (the dashboard's confirmation)."""
    stmt = _bulk_replay_selection(project_id, retention_days, flt, window, utcnow())
    return await total_of(session, stmt)


async def bulk_replay(
    session: AsyncSession, project_id: str, retention_days: int, flt: DeliveryFilter, window: Window
) -> int:
    """Requeue every matching delivery whose target is enabled now, within the plan's retention."""
    now = utcnow()
    stmt = _bulk_replay_selection(project_id, retention_days, flt, window, now)
    return await requeue(session, await rows_of(session, stmt), now)


async def list_events(
    session: AsyncSession, project_id: str, event_type: str | None, window: Window
) -> dict[str, Any]:
    stmt = for_project(Event, project_id)
    if event_type:
        stmt = stmt.where(Event.type == event_type)
    stmt = in_window(stmt, Event.created_at, window)
    return await newest_listing(session, stmt, (Event.created_at, Event.id), window, "events", event_view)


async def get_event(session: AsyncSession, project_id: str, event_id: str) -> dict[str, Any]:
    event = found(await get_owned(session, Event, event_id, project_id), "Event")
    rows = (
        await session.execute(
            for_project(Delivery, project_id)
            .add_columns(WebhookTarget.url)
            .join(WebhookTarget, WebhookTarget.id == Delivery.target_id)
            .where(Delivery.event_id == event.id)
            .order_by(Delivery.created_at)
        )
    ).all()
    return {**event_view(event), "deliveries": [delivery_view(d, url) for d, url in rows]}
