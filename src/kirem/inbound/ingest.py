"""Group commit of Meta's webhooks: many requests, one transaction, every 200 after its commit.

Each ``POST /webhooks/meta`` hands its raw body to the process's ``RawEventStore`` and waits. One
committer task takes everything waiting, inserts it with one multi-row ``INSERT`` in one
transaction, commits, and only then releases the requests, which answer 200. While a commit is in
flight the next requests gather for the following one, so the batch grows with the load and no
timer delays a lone webhook. When a commit fails, every request of that batch answers 503 and Meta
sends it again; nothing is acknowledged that is not stored.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import insert

from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.inbound.models import RawEvent
from kirem.signals import RAW_EVENTS, Signals, notify

log = logging.getLogger("kirem.inbound")
MAX_BATCH = 500
"""Rows per transaction at most; SQLite allows 32,766 bound values in one statement."""


class StoreFailed(Exception):
    """The batch holding this webhook could not be committed."""


class RawEventStore:
    def __init__(self, db: Database, signals: Signals) -> None:
        self._db = db
        self._signals = signals
        self._waiting: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._closing = False

    async def store(self, source: str, body: bytes) -> None:
        """Return once ``body`` is committed; raise ``StoreFailed`` if its transaction failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((source, body, done))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_loop(), name="kirem-ingest")
        self._wakeup.set()
        await done

    async def _commit_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(0)  # let requests that arrived in the same turn of the loop join
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                await self._commit(batch)
            if self._closing:
                return

    async def _commit(self, batch: list[tuple[str, bytes, asyncio.Future[None]]]) -> None:
        now = utcnow()
        rows = [{"source": source, "body": body, "received_at": now} for source, body, _ in batch]
        try:
            async with self._db.transaction() as session:
                await session.execute(insert(RawEvent.__table__).values(rows))
                await notify(session, RAW_EVENTS)
        except Exception as exc:
            log.exception("committing %d webhook(s) failed; they are answered 503", len(batch))
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(StoreFailed(str(exc)))
            return
        for _, _, done in batch:
            if not done.done():
                done.set_result(None)
        self._signals.wake(RAW_EVENTS)

    async def aclose(self) -> None:
        """Let the committer commit what is still waiting, then stop it."""
        self._closing = True
        if self._committer is not None:
            self._wakeup.set()
            await self._committer
            self._committer = None
