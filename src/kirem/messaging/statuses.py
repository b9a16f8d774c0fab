"""Delivery statuses from Meta applied to the message log, never moving a message backwards."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.messaging.models import MessageLog, PendingStatus

RANK = {"pending": 0, "accepted": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5}


def _advance(log: MessageLog, status: str, error_code: int | None, error_message: str | None) -> None:
    if RANK.get(status, 0) <= RANK.get(log.status, 0):
        return
    log.status = status
    if status == "failed":
        log.error_code = error_code
        log.error_message = error_message


async def apply_status(
    session: AsyncSession,
    message_id: str,
    status: str,
    error_code: int | None = None,
    error_message: str | None = None,
) -> bool:
    """Apply one status to the outbound log entry with this wamid; park it if the entry is not there yet."""
    stmt = select(MessageLog).where(MessageLog.message_id == message_id, MessageLog.direction == "outbound")
    logs = list((await session.execute(stmt)).scalars())
    for log in logs:
        _advance(log, status, error_code, error_message)
    if not logs:
        session.add(
            PendingStatus(
                message_id=message_id, status=status, error_code=error_code, error_message=error_message
            )
        )
    return bool(logs)


async def apply_pending(session: AsyncSession, log: MessageLog) -> None:
    """Statuses that overtook their send (Meta can be faster than our own commit).

    Read without flushing ``log`` first, and deleted only when there were some: on SQLite a send's
    closing transaction then takes the write lock only for its own writes.
    """
    if not log.message_id:
        return
    stmt = select(PendingStatus).where(PendingStatus.message_id == log.message_id).order_by(PendingStatus.id)
    with session.no_autoflush:
        pending = list((await session.execute(stmt)).scalars())
    for status in pending:
        _advance(log, status.status, status.error_code, status.error_message)
    if pending:
        await session.execute(delete(PendingStatus).where(PendingStatus.message_id == log.message_id))


def format_error(code: int | None, title: str | None) -> str | None:
    """Meta's error as the log shows it: ``(#131026) Message Undeliverable``."""
    if code is None and not title:
        return None
    return f"(#{code}) {title}" if code is not None else str(title)
