"""Group commit of Meta's webhooks: many requests, one transaction, every 200 after its commit.

Each ``POST /webhooks/meta`` hands its raw body to the process's ``RawEventStore`` and waits; the
bodies waiting together are stored in one transaction. When that commit fails, every request of
the batch answers 503 and Meta sends it again: nothing is acknowledged that is not stored.

A batch costs the database as little as each engine allows. On PostgreSQL it is one statement
on a connection in autocommit (the rows as arrays, the ``NOTIFY`` in the same statement): one
round trip, committed when it returns. On SQLite it is one ``executemany`` and its ``COMMIT`` in
one turn of the writer connection's thread.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, text
from sqlalchemy.engine import Dialect

from kirem.db.base import UTCDateTime, utcnow
from kirem.db.engine import Database
from kirem.db.group_commit import GroupCommitter
from kirem.inbound.models import RawEvent
from kirem.signals import RAW_EVENTS, Signals

log = logging.getLogger("kirem.inbound")
MAX_BATCH = 500
"""Rows per transaction at most."""
PENDING = {"status": "pending", "attempts": 0}
"""What a stored webhook starts as (the model's defaults, which these statements do not apply)."""

POSTGRESQL_STORE = text(
    "WITH stored AS ("
    " INSERT INTO raw_events (received_at, source, body, status, attempts)"
    " SELECT CAST(:received_at AS TIMESTAMP WITH TIME ZONE), source, body, :status, :attempts"
    " FROM unnest(CAST(:sources AS VARCHAR[]), CAST(:bodies AS BYTEA[])) AS batch (source, body)"
    ") SELECT pg_notify(:channel, '')"
).bindparams(bindparam("received_at", type_=UTCDateTime()))
SQLITE_STORE = "INSERT INTO raw_events (received_at, source, body, status, attempts) VALUES (?, ?, ?, ?, ?)"


class RawEventStore:
    def __init__(self, db: Database, signals: Signals) -> None:
        self._db = db
        self._signals = signals
        self._committer = GroupCommitter(self._insert, MAX_BATCH, "kirem-ingest")

    async def store(self, source: str, body: bytes) -> None:
        """Return once ``body`` is committed; raise ``BatchFailed`` if its transaction failed."""
        await self._committer.submit((source, body))

    async def _insert(self, batch: list[tuple[str, bytes]]) -> None:
        try:
            if self._db.autocommit_engine is not None:
                await self._insert_postgresql(batch)
            else:
                await self._insert_sqlite(batch)
        except Exception:
            log.exception("committing %d webhook(s) failed; they are answered 503", len(batch))
            raise
        self._signals.wake(RAW_EVENTS)

    async def _insert_postgresql(self, batch: list[tuple[str, bytes]]) -> None:
        values = {
            "received_at": utcnow(),
            "sources": [source for source, _ in batch],
            "bodies": [body for _, body in batch],
            "channel": RAW_EVENTS,
            **PENDING,
        }
        async with self._db.autocommit() as connection:
            await connection.execute(POSTGRESQL_STORE, values)

    async def _insert_sqlite(self, batch: list[tuple[str, bytes]]) -> None:
        received_at = _bound(RawEvent.__table__.c.received_at, utcnow(), self._db.batch_engine.dialect)
        status, attempts = PENDING["status"], PENDING["attempts"]
        rows = [(received_at, source, body, status, attempts) for source, body in batch]
        async with self._db.batch_driver_connection() as connection:
            await connection.write_batch(SQLITE_STORE, rows)

    async def aclose(self) -> None:
        await self._committer.aclose()


def _bound(column: ColumnElement[Any], value: datetime, dialect: Dialect) -> Any:
    """``value`` as the driver is given it for ``column`` (what SQLAlchemy would have bound)."""
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value
