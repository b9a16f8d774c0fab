"""Recording a Kirem event once (Meta's redeliveries are recognised) with both of its bodies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

import orjson
from sqlalchemy import Select, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import ReturningInsert

from kirem.db.among import among_param
from kirem.db.base import new_id
from kirem.db.scope import dialect_insert
from kirem.inbound.models import Event
from kirem.kit.params import iso


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


@dataclass(frozen=True)
class NewEvent:
    """An event of a processed webhook, ready to be written (its ``data`` complete)."""

    project_id: str
    channel_id: str | None
    raw_event_id: int | None
    type: str
    dedup_key: str
    data: dict[str, Any]
    facts: dict[str, Any]
    meta_body: bytes


@dataclass(frozen=True)
class LoggedEvent:
    """An event just written (or a failed one written again): what routing and delivery read of it."""

    id: str
    project_id: str
    channel_id: str | None
    type: str
    facts: dict[str, Any]
    data: dict[str, Any]
    bodies: tuple[bytes, bytes] | None = None
    """``(kirem body, meta body)`` as just written; None for a failed event written again (its
    stored bodies are kept)."""


class EventLog:
    """The events log's entry point for a batch: which items are new, then writing them all at once.

    :meth:`lookup` reads which of the batch's ``(project, dedup_key)`` are stored already (one
    query); :meth:`claim` then says, item by item in order, whether an item is to be applied — not
    when it was stored before (a redelivery) or earlier in the batch, yes when it is new or was kept
    failed; :meth:`record` writes the claimed ones.
    """

    def __init__(self, stored: dict[tuple[str, str], tuple[str, bool]]) -> None:
        self._stored = stored
        self._claimed: set[tuple[str, str]] = set()

    @classmethod
    async def lookup(cls, session: AsyncSession, keys: Iterable[tuple[str, str]]) -> EventLog:
        wanted = set(keys)
        stored: dict[tuple[str, str], tuple[str, bool]] = {}
        if wanted:
            params = {
                "dedup_keys": list({key for _, key in wanted}),
                "project_ids": list({project_id for project_id, _ in wanted}),
            }
            stmt = _lookup_statement(session.get_bind().dialect.name)
            for project_id, dedup_key, event_id, failed in await session.execute(stmt, params):
                if (project_id, dedup_key) in wanted:
                    stored[(project_id, dedup_key)] = (event_id, bool(failed))
        return cls(stored)

    def claim(self, project_id: str, dedup_key: str) -> bool:
        key = (project_id, dedup_key)
        if key in self._claimed:
            return False
        stored = self._stored.get(key)
        if stored is not None and not stored[1]:
            return False
        self._claimed.add(key)
        return True

    async def record(self, session: AsyncSession, events: list[NewEvent], now: datetime) -> list[LoggedEvent]:
        """Insert the new events, clear the kept-failed ones; return both.

        The rows go as one ``executemany`` of a cached statement, which SQLAlchemy sends as
        multi-row ``INSERT``s (its "insertmanyvalues"), without compiling a statement per batch.

        An event another process stored meanwhile is not returned (it is routed there).
        """
        logged: list[LoggedEvent] = []
        rows: list[dict[str, Any]] = []
        for event in events:
            kept = self._stored.get((event.project_id, event.dedup_key))
            if kept is not None:
                await session.execute(
                    update(Event)
                    .where(Event.id == kept[0])
                    .values(data=event.data, facts=event.facts, error=None)
                )
                logged.append(_logged(kept[0], event))
                continue
            event_id = new_id("evt")
            kirem_body = kirem_envelope(event_id, event.type, now, event.project_id, event.data)
            rows.append(
                {
                    "id": event_id,
                    "project_id": event.project_id,
                    "channel_id": event.channel_id,
                    "raw_event_id": event.raw_event_id,
                    "type": event.type,
                    "dedup_key": event.dedup_key,
                    "data": event.data,
                    "facts": event.facts,
                    "kirem_body": kirem_body,
                    "meta_body": event.meta_body,
                    "created_at": now,
                }
            )
            logged.append(_logged(event_id, event, (kirem_body, event.meta_body)))
        inserted: set[str] = set()
        if rows:
            stmt = _insert_statement(session.get_bind().dialect.name)
            inserted.update((await session.execute(stmt, rows)).scalars())
        kept_ids = {stored[0] for stored in self._stored.values()}
        return [event for event in logged if event.id in inserted or event.id in kept_ids]


@cache
def _lookup_statement(dialect_name: str) -> Select[str, str, str, bool]:
    """Events of the projects ``project_ids`` with the keys ``dedup_keys``: id, and whether kept failed."""
    return select(Event.project_id, Event.dedup_key, Event.id, Event.error.is_not(None)).where(
        among_param(dialect_name, Event.dedup_key, "dedup_keys", json_on_sqlite=True),
        among_param(dialect_name, Event.project_id, "project_ids", json_on_sqlite=True),
    )


@cache
def _insert_statement(dialect_name: str) -> ReturningInsert[str]:
    """The new events' insert, returning the ids of those no other process stored first."""
    table = cast("Table", Event.__table__)
    return dialect_insert(dialect_name, table).on_conflict_do_nothing().returning(table.c.id)


def _logged(event_id: str, event: NewEvent, bodies: tuple[bytes, bytes] | None = None) -> LoggedEvent:
    return LoggedEvent(
        event_id, event.project_id, event.channel_id, event.type, event.facts, event.data, bodies
    )
