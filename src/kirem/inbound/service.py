"""Meta's webhook envelope applied to Kirem's state: inbound messages logged, statuses applied.

Every entry and every change is handled. Redeliveries of the same inbound message are recognised
by its wamid and logged once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.messaging.models import MessageLog
from kirem.messaging.statuses import apply_status, format_error
from kirem.tenancy.models import Channel


def _changes(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for entry in envelope.get("entry") or []:
        if isinstance(entry, dict):
            changes.extend(c for c in entry.get("changes") or [] if isinstance(c, dict))
    return changes


async def process_envelope(session: AsyncSession, envelope: dict[str, Any]) -> None:
    for change in _changes(envelope):
        value = change.get("value")
        if change.get("field") != "messages" or not isinstance(value, dict):
            continue
        metadata = value.get("metadata") or {}
        phone_number_id = str(metadata.get("phone_number_id", ""))
        channel = (
            await session.execute(select(Channel).where(Channel.phone_number_id == phone_number_id))
        ).scalar_one_or_none()
        for status in value.get("statuses") or []:
            if isinstance(status, dict) and status.get("id"):
                await _status(session, status)
        if channel is not None:
            for message in value.get("messages") or []:
                if isinstance(message, dict) and message.get("id"):
                    await _inbound(session, channel, message)
    await session.commit()


async def _status(session: AsyncSession, status: dict[str, Any]) -> None:
    errors = status.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    code = first.get("code") if isinstance(first.get("code"), int) else None
    message = (
        format_error(code, first.get("title") or first.get("message"))
        if status.get("status") == "failed"
        else None
    )
    await apply_status(session, str(status["id"]), str(status.get("status", "")), code, message)


async def _inbound(session: AsyncSession, channel: Channel, message: dict[str, Any]) -> None:
    wamid = str(message["id"])
    seen = await session.scalar(
        select(func.count())
        .select_from(MessageLog)
        .where(
            MessageLog.project_id == channel.project_id,
            MessageLog.message_id == wamid,
            MessageLog.direction == "inbound",
        )
    )
    if seen:
        return
    session.add(
        MessageLog(
            project_id=channel.project_id,
            channel_id=channel.id,
            message_id=wamid,
            recipient=channel.display_phone_number,
            sender=str(message.get("from", ""))[:64],
            direction="inbound",
            type=str(message.get("type", "unknown"))[:32],
            status="received",
            request=message,
        )
    )
