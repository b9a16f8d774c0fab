"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from kirem.config import Settings
from kirem.db.idle_ping import ping_after_idle
from kirem.db.sqlite_writer import WriterLock, connector, serialise_writes

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
OWNER_ONLY = 0o600
BUSY_TIMEOUT_SECONDS = 30


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; ``None`` for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def secure_sqlite_files(path: Path) -> None:
    """Create the database file owner-only if absent; make it and its companions owner-only.

    SQLite creates its WAL and SHM files with the database file's permissions, so a 0600 database
    keeps them private too; files left readable by an older version are tightened here.
    """
    if path.parent.is_dir() and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, OWNER_ONLY))
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(OWNER_ONLY)
        except FileNotFoundError:
            continue


def is_sqlite(settings: Settings) -> bool:
    return settings.database_url.startswith("sqlite")


def create_engine(
    settings: Settings,
    *,
    writer: WriterLock | None = None,
    single_connection: bool = False,
    autocommit: bool = False,
) -> AsyncEngine:
    """The engine of ``settings.database_url``. On SQLite, engines sharing ``writer`` take turns
    to write; ``single_connection`` makes an engine of one connection (the batched writers' own).
    ``autocommit`` (PostgreSQL) makes one connection whose every statement commits alone."""
    url = settings.database_url
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    if autocommit and not url.startswith("sqlite"):
        # every statement commits alone and no pre-ping precedes it: a broken connection fails its
        # one statement (the caller's batch) and the pool opens a new one for the next
        return create_async_engine(url, pool_size=1, max_overflow=0, isolation_level="AUTOCOMMIT")
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            secure_sqlite_files(path)
        pool = {"pool_size": 1, "max_overflow": 0} if single_connection else {}
        engine = create_async_engine(
            url,
            async_creator=connector(url, writer or WriterLock(BUSY_TIMEOUT_SECONDS), BUSY_TIMEOUT_SECONDS),
            **pool,
        )
        serialise_writes(engine)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if path is not None:
                secure_sqlite_files(path)  # the WAL and SHM files now exist

        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=10)
    ping_after_idle(engine)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """The process's engines and session factories, created once and shared.

    On SQLite the group committers (ingest, the send path, the sandbox's outbox) write through
    :meth:`batch_transaction`: one connection of their own, which they take in turn, so the busy
    paths' writes are serialised through one connection, each a batch. Every other session of the
    process takes the same writer turn (:mod:`kirem.db.sqlite_writer`) for its own, rarer writes.
    On PostgreSQL (and an in-memory SQLite database, which exists once per connection pool) both
    are the one engine.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if is_sqlite(settings) and sqlite_file(settings.database_url) is not None:
            writer = WriterLock(BUSY_TIMEOUT_SECONDS)
            self.engine = create_engine(settings, writer=writer)
            self.batch_engine = create_engine(settings, writer=writer, single_connection=True)
        else:
            self.engine = self.batch_engine = create_engine(settings)
        self.autocommit_engine = None if is_sqlite(settings) else create_engine(settings, autocommit=True)
        self.sessions = create_session_factory(self.engine)
        self.batch_sessions = create_session_factory(self.batch_engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def batch_transaction(self) -> AsyncIterator[AsyncSession]:
        """The transaction of a group commit: on SQLite, on the batched writers' one connection."""
        async with self.batch_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """PostgreSQL: a connection on which each statement is its own transaction, committed when it
        returns: one round trip for a group commit written as one statement."""
        if self.autocommit_engine is None:
            raise RuntimeError("autocommit connections are PostgreSQL's")
        async with self.autocommit_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def batch_driver_connection(self) -> AsyncIterator[Any]:
        """SQLite: the batched writers' driver connection (a ``WriterConnection``), for one batch."""
        async with self.batch_engine.connect() as connection:
            raw = await connection.get_raw_connection()
            yield raw.driver_connection

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.batch_engine is not self.engine:
            await self.batch_engine.dispose()
        if self.autocommit_engine is not None:
            await self.autocommit_engine.dispose()
