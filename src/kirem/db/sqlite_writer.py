"""One writer at a time on SQLite, queued in the event loop instead of in SQLite's busy handler.

SQLite lets one transaction write at a time. Left alone, every other connection that wants to write
spins in SQLite's busy handler, sleeping 1, 2, 5 … 100 ms between tries in its own thread; under
load, writers wake long after the lock is free and latencies reach seconds. Here a connection takes
the process's writer lock (an ``asyncio.Lock``, FIFO) at the statement that opens its write
transaction, and gives it back once the ``COMMIT`` or ``ROLLBACK`` has finished, so the next writer
starts the moment the previous one is done. Reads need no lock (WAL lets them run beside the
writer). Other processes on the same file (the CLI) still meet the busy timeout.
"""

from __future__ import annotations

import asyncio
import sqlite3
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPICursor, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from kirem.db.one_turn_cursor import OneTurnCursor, Outcome

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT")
"""The statements with which a connection starts (or may start) a write transaction."""


class WriterLock:
    """The process's turn to write to one SQLite database, per event loop."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def acquire(self) -> asyncio.Lock:
        lock = self.lock()
        try:
            await asyncio.wait_for(lock.acquire(), self.timeout)
        except TimeoutError as exc:
            raise sqlite3.OperationalError("database is locked (waited for this process's writer)") from exc
        return lock


class WriterConnection(aiosqlite.Connection):
    """An aiosqlite connection that holds the writer lock from its first write to its commit."""

    def __init__(self, *args: Any, writer: WriterLock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writer = writer
        self.held: asyncio.Lock | None = None

    async def start_writing(self) -> None:
        if self.held is None:
            self.held = await self.writer.acquire()

    def _give_back(self) -> None:
        held, self.held = self.held, None
        if held is not None:
            held.release()

    async def _giving_back(self, ending: Awaitable[None]) -> None:
        """Await the connection's ``ending`` (commit, rollback or close), then give the write lock back."""
        try:
            await ending
        finally:
            self._give_back()

    def _idle(self) -> bool:
        """No transaction open: sqlite3's commit and rollback would do nothing, so no thread turn
        is spent on them (SQLAlchemy rolls back every connection it takes back into the pool)."""
        return self._connection is not None and not self._connection.in_transaction

    async def commit(self) -> None:
        if self._idle():
            self._give_back()
            return
        await self._giving_back(super().commit())

    async def rollback(self) -> None:
        if self._idle():
            self._give_back()
            return
        await self._giving_back(super().rollback())

    async def close(self) -> None:
        await self._giving_back(super().close())

    def stop(self) -> Any:
        try:
            return super().stop()
        finally:
            self._give_back()

    def cursor(self) -> OneTurnCursor:  # type: ignore[override]
        """A cursor whose every statement is one turn of this connection's thread (no turn to make it)."""
        return OneTurnCursor(self)

    async def run_in_thread(self, function: Callable[..., Outcome], *args: Any, **kwargs: Any) -> Outcome:
        """``function(the sqlite3 connection, *args, **kwargs)`` in this connection's thread."""
        # aiosqlite's own way to run a function in the connection's thread (untyped there)
        outcome: Outcome = await self._execute(function, self._conn, *args, **kwargs)  # type: ignore[no-untyped-call]
        return outcome

    async def write_batch(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``statement`` once per row and commit, in one turn of the connection's thread.

        One transaction under the writer lock, rolled back if any row fails: a group commit's whole
        batch for one hand-off to the thread instead of one per cursor, statement and commit.
        """
        await self.start_writing()
        try:
            # aiosqlite's own way to run a function in the connection's thread (untyped there)
            await self._execute(_execute_and_commit, self._conn, statement, rows)  # type: ignore[no-untyped-call]
        finally:
            self._give_back()


def _execute_and_commit(
    connection: sqlite3.Connection, statement: str, rows: Sequence[Sequence[Any]]
) -> None:
    if not connection.in_transaction:
        connection.execute("BEGIN")
    try:
        connection.executemany(statement, rows)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise


CACHED_STATEMENTS = 32
"""Prepared statements each SQLite connection keeps (``sqlite3``'s default is 128).

The batch statements' texts change with the batch's size (an ``INSERT … RETURNING`` of n rows, an
``IN`` of n values), and a prepared multi-row insert holds about 85 bytes per bound value: 128 of
them cost a connection tens of megabytes, so a server's memory grew with every new batch size it met
(``bench/memory.py``). 32 keep every statement a batch repeats, and bound what the rest can hold."""


def connector(url: str, writer: WriterLock, busy_timeout: float) -> Any:
    """An ``async_creator`` for ``create_async_engine`` making ``WriterConnection``s of ``url``."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))
    kwargs["timeout"] = busy_timeout
    kwargs["cached_statements"] = CACHED_STATEMENTS

    async def connect() -> WriterConnection:
        (database,) = args

        def open_connection() -> sqlite3.Connection:
            return sqlite3.connect(database, **kwargs)

        connection = WriterConnection(open_connection, iter_chunk_size=64, writer=writer)
        connection._thread.daemon = True  # as SQLAlchemy's own aiosqlite connect does
        await connection  # starts the connection's thread and opens the database
        return connection

    return connect


def serialise_writes(engine: AsyncEngine) -> None:
    """Take the writer lock before a statement that opens a write transaction on ``engine``."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before_write(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: object,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        if statement.lstrip()[:9].upper().startswith(WRITE_VERBS):
            raw = getattr(conn.connection.dbapi_connection, "_connection", None)
            if isinstance(raw, WriterConnection) and raw.held is None:
                await_only(raw.start_writing())
