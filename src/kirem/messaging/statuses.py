"""Delivery statuses from Meta applied to the message log, never moving a message backwards."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
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


class StatusBook:
    """Meta's statuses of a batch applied to the outbound log entries with their wamids.

    The entries are read with one query for the batch (:meth:`load`); an entry written in the same
    batch (an echo, an imported message) is :meth:`add`-ed; a status whose entry is not there yet is
    parked as a ``PendingStatus`` for the send to pick up.
    """

    def __init__(self, session: AsyncSession, logs: dict[str, list[MessageLog]]) -> None:
        self.session = session
        self._logs = logs

    @classmethod
    async def load(cls, session: AsyncSession, message_ids: Iterable[str]) -> StatusBook:
        wanted = set(message_ids)
        logs: dict[str, list[MessageLog]] = defaultdict(list)
        if wanted:
            stmt = select(MessageLog).where(
                MessageLog.message_id.in_(wanted), MessageLog.direction == "outbound"
            )
            for log in (await session.execute(stmt)).scalars():
                logs[str(log.message_id)].append(log)
        return cls(session, logs)

    def add(self, log: MessageLog) -> None:
        if log.direction == "outbound" and log.message_id:
            self._logs[log.message_id].append(log)

    def apply(
        self, message_id: str, status: str, error_code: int | None = None, error_message: str | None = None
    ) -> bool:
        """Apply one status to the entries with this wamid; park it if there are none yet."""
        logs = self._logs.get(message_id) or []
        for log in logs:
            _advance(log, status, error_code, error_message)
        if not logs:
            self.session.add(
                PendingStatus(
                    message_id=message_id, status=status, error_code=error_code, error_message=error_message
                )
            )
        return bool(logs)


def advanced(status: str, overtaking: Iterable[PendingStatus]) -> dict[str, Any]:
    """The log columns a send's entry, now at ``status``, takes from statuses that overtook it.

    Meta can be faster than our own commit: a ``sent`` or even ``read`` status may be parked
    before the send's entry says ``accepted``. Empty when none of them moves it forward.
    """
    current: dict[str, Any] = {"status": status}
    for pending in overtaking:
        if RANK.get(pending.status, 0) > RANK.get(current["status"], 0):
            current["status"] = pending.status
            if pending.status == "failed":
                current["error_code"] = pending.error_code
                current["error_message"] = pending.error_message
    return current if current["status"] != status else {}


def format_error(code: int | None, title: str | None) -> str | None:
    """Meta's error as the log shows it: ``(#131026) Message Undeliverable``."""
    if code is None and not title:
        return None
    return f"(#{code}) {title}" if code is not None else str(title)
