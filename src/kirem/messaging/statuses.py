"""Delivery statuses from Meta applied to the message log, never moving a message backwards."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any, cast

from sqlalchemy import Select, Table, Update, bindparam, case, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.among import among_param
from kirem.db.base import utcnow
from kirem.messaging.models import MessageLog, PendingStatus

RANK = {"pending": 0, "accepted": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5}


Entry = dict[str, Any]
"""A ``message_logs`` row as a dict (``id``, ``message_id``, ``status``, ``error_code``, ...)."""


def _advance(entry: Entry, status: str, error_code: int | None, error_message: str | None) -> bool:
    if RANK.get(status, 0) <= RANK.get(entry["status"], 0):
        return False
    entry["status"] = status
    if status == "failed":
        entry["error_code"] = error_code
        entry["error_message"] = error_message
    return True


class StatusBook:
    """Meta's statuses of a batch applied to the outbound log entries with their wamids.

    The entries are read with one query for the batch (:meth:`load`); an entry written in the same
    batch (an echo, an imported message) is :meth:`add`-ed as the row its writer inserts later; a
    status whose entry is not there yet is parked as a ``PendingStatus`` for the send to pick up.
    Entries are plain rows, not ORM objects: :meth:`write` updates the moved ones and parks the rest
    with one statement each.
    """

    def __init__(self, session: AsyncSession, entries: dict[str, list[Entry]]) -> None:
        self.session = session
        self._entries = entries
        self._stored = {entry["id"] for found in entries.values() for entry in found}
        self._moved: dict[str, Entry] = {}
        self._parked: list[dict[str, Any]] = []

    @classmethod
    async def load(cls, session: AsyncSession, message_ids: Iterable[str]) -> StatusBook:
        wanted = set(message_ids)
        entries: dict[str, list[Entry]] = defaultdict(list)
        if wanted:
            stmt = _entries_statement(session.get_bind().dialect.name)
            for row in await session.execute(stmt, {"message_ids": list(wanted)}):
                entries[str(row.message_id)].append(dict(row._mapping))
        return cls(session, entries)

    def add(self, entry: Entry) -> None:
        """A row written in this batch: later statuses move it before it is inserted."""
        if entry["direction"] == "outbound" and entry["message_id"]:
            self._entries[entry["message_id"]].append(entry)

    def apply(
        self, message_id: str, status: str, error_code: int | None = None, error_message: str | None = None
    ) -> bool:
        """Apply one status to the entries with this wamid; park it if there are none yet."""
        entries = self._entries.get(message_id) or []
        for entry in entries:
            if _advance(entry, status, error_code, error_message) and entry["id"] in self._stored:
                self._moved[entry["id"]] = entry
        if not entries:
            self._parked.append(
                {
                    "message_id": message_id,
                    "status": status,
                    "error_code": error_code,
                    "error_message": error_message,
                    "received_at": utcnow(),
                }
            )
        return bool(entries)

    async def write(self) -> None:
        """Store what :meth:`apply` did to the entries read by :meth:`load`, and the parked statuses."""
        if self._moved:
            now = utcnow()
            by_outcome: dict[tuple[str, int | None, str | None], list[str]] = defaultdict(list)
            for e in self._moved.values():
                by_outcome[(e["status"], e["error_code"], e["error_message"])].append(e["id"])
            move = _move_forward(self.session.get_bind().dialect.name)
            for (status, error_code, error_message), log_ids in by_outcome.items():
                await self.session.execute(
                    move,
                    {
                        "log_ids": log_ids,
                        "rank": RANK[status],
                        "new_status": status,
                        "new_error_code": error_code,
                        "new_error_message": error_message,
                        "moved_at": now,
                    },
                )
            self._moved.clear()
        if self._parked:
            await self.session.execute(insert(_PENDING), self._parked)
            self._parked = []


_LOGS = cast("Table", MessageLog.__table__)
_PENDING = cast("Table", PendingStatus.__table__)
_ENTRY_COLUMNS = ("id", "message_id", "direction", "status", "error_code", "error_message")


@cache
def _move_forward(dialect_name: str) -> Update:
    """Entries (``log_ids``) moved to a status of a ``rank``, one statement for all of them,
    checked against each row as it is when written: another process may have applied a later
    status since this batch read it (the row's lock orders the two)."""
    return (
        update(_LOGS)
        .where(among_param(dialect_name, _LOGS.c.id, "log_ids", json_on_sqlite=True))
        .where(case(RANK, value=_LOGS.c.status, else_=0) < bindparam("rank"))
        .values(
            status=bindparam("new_status"),
            error_code=bindparam("new_error_code"),
            error_message=bindparam("new_error_message"),
            updated_at=bindparam("moved_at"),
        )
    )


@cache
def _entries_statement(dialect_name: str) -> Select[Any]:
    """The outbound entries with the wamids ``message_ids``."""
    wamids = among_param(dialect_name, _LOGS.c.message_id, "message_ids", json_on_sqlite=True)
    columns = (_LOGS.c[column] for column in _ENTRY_COLUMNS)
    return select(*columns).where(wamids, _LOGS.c.direction == "outbound")


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
