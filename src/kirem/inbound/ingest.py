"""Group commit of Meta's webhooks: many requests, one transaction, every 200 after its commit.

Each ``POST /webhooks/meta`` hands its raw body to the process's ``RawEventStore`` and waits; the
bodies waiting together are inserted with one multi-row ``INSERT`` in one transaction. When that
commit fails, every request of the batch answers 503 and Meta sends it again: nothing is
acknowledged that is not stored.
"""

from __future__ import annotations

import logging
from typing import cast

from sqlalchemy import Table, insert

from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.db.group_commit import GroupCommitter
from kirem.inbound.models import RawEvent
from kirem.signals import RAW_EVENTS, Signals, notify

log = logging.getLogger("kirem.inbound")
MAX_BATCH = 500
"""Rows per transaction at most; SQLite allows 32,766 bound values in one statement."""


class RawEventStore:
    def __init__(self, db: Database, signals: Signals) -> None:
        self._db = db
        self._signals = signals
        self._committer = GroupCommitter(self._insert, MAX_BATCH, "kirem-ingest")

    async def store(self, source: str, body: bytes) -> None:
        """Return once ``body`` is committed; raise ``BatchFailed`` if its transaction failed."""
        await self._committer.submit((source, body))

    async def _insert(self, batch: list[tuple[str, bytes]]) -> None:
        now = utcnow()
        rows = [{"source": source, "body": body, "received_at": now} for source, body in batch]
        try:
            async with self._db.batch_transaction() as session:
                await session.execute(insert(cast("Table", RawEvent.__table__)).values(rows))
                await notify(session, RAW_EVENTS)
        except Exception:
            log.exception("committing %d webhook(s) failed; they are answered 503", len(batch))
            raise
        self._signals.wake(RAW_EVENTS)

    async def aclose(self) -> None:
        await self._committer.aclose()
