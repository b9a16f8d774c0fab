"""Recording a Kirem event once (Meta's redeliveries are recognised) with both of its bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.analytics.params import iso
from kirem.db.base import new_id
from kirem.inbound.models import Event


def kirem_envelope(event_id: str, event_type: str, created_at: datetime, project_id: str, data: Any) -> bytes:
    """The ``kirem`` format (docs/routing.md): ``event``, ``data``, ``id``, ``created_at``, ``project_id``."""
    envelope = {
        "id": event_id,
        "event": event_type,
        "created_at": iso(created_at),
        "project_id": project_id,
        "data": data,
    }
    return orjson.dumps(envelope)


async def record_event(
    session: AsyncSession,
    *,
    project_id: str,
    type: str,
    dedup_key: str,
    data: dict[str, Any],
    now: datetime,
    channel_id: str | None = None,
    raw_event_id: int | None = None,
    facts: dict[str, Any] | None = None,
    meta_body: bytes | None = None,
    error: str | None = None,
) -> Event | None:
    """Insert the event; ``None`` when this project already has one with the same ``dedup_key``."""
    seen = await session.scalar(
        select(Event.id).where(Event.project_id == project_id, Event.dedup_key == dedup_key).limit(1)
    )
    if seen is not None:
        return None
    event_id = new_id("evt")
    kirem_body = kirem_envelope(event_id, type, now, project_id, data)
    event = Event(
        id=event_id,
        project_id=project_id,
        channel_id=channel_id,
        raw_event_id=raw_event_id,
        type=type,
        dedup_key=dedup_key,
        data=data,
        facts=facts or {},
        kirem_body=kirem_body,
        meta_body=meta_body if meta_body is not None else kirem_body,
        error=error,
        created_at=now,
    )
    session.add(event)
    await session.flush()
    return event
