"""The message log as the analytics API shows it: filtered, newest first, paginated."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.analytics.params import Window, iso
from kirem.bsuid import is_bsuid, is_parent_bsuid
from kirem.db.scope import for_project
from kirem.messaging.models import MessageLog
from kirem.messaging.statuses import RANK
from kirem.phones import digits

DIRECTIONS = ("inbound", "outbound")
STATUSES = (*RANK, "received")


def log_view(log: MessageLog) -> dict[str, Any]:
    return {
        "id": log.id,
        "message_id": log.message_id,
        "channel_id": log.channel_id,
        "recipient": log.recipient,
        "recipient_user_id": log.recipient_user_id,
        "sender": log.sender,
        "direction": log.direction,
        "type": log.type,
        "status": log.status,
        "error_code": log.error_code,
        "error_message": log.error_message,
        "created_at": iso(log.created_at),
        "updated_at": iso(log.updated_at),
    }


async def query_message_logs(
    session: AsyncSession, project_id: str, window: Window, filters: dict[str, str | None]
) -> dict[str, Any]:
    stmt = for_project(MessageLog, project_id)
    for column in ("status", "direction", "recipient", "type"):
        value = filters.get(column)
        if value and column == "recipient" and (is_bsuid(value) or is_parent_bsuid(value)):
            stmt = stmt.where(MessageLog.recipient_user_id == value)
        elif value:
            value = (digits(value) or value) if column == "recipient" else value
            stmt = stmt.where(getattr(MessageLog, column) == value)
    if window.since:
        stmt = stmt.where(MessageLog.created_at >= window.since)
    if window.until:
        stmt = stmt.where(MessageLog.created_at <= window.until)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    page = (
        stmt.order_by(MessageLog.created_at.desc(), MessageLog.id.desc())
        .limit(window.limit)
        .offset(window.offset)
    )
    logs = [log_view(log) for log in (await session.execute(page)).scalars()]
    return {"total": total or 0, "limit": window.limit, "offset": window.offset, "logs": logs}
