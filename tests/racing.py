"""Reads raced by writes: a session that lets another transaction commit after each of its reads, so a
test can check that what one answer shows together was read together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.engine import Database

CommitOne = Callable[[], Awaitable[None]]


class CommitsBetweenStatements:
    """An ``AsyncSession`` stand-in: after each ``SELECT`` it runs (``execute``, ``scalar``,
    ``scalars``), another transaction commits
    (``commit_one``); everything else is the session's own. Not after its writes: on SQLite the other
    transaction would wait for this one's lock."""

    def __init__(self, session: AsyncSession, commit_one: CommitOne) -> None:
        self.session = session
        self.commit_one = commit_one

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await self.session.execute(statement, *args, **kwargs)
        await self._after(statement)
        return result

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await self.session.scalar(statement, *args, **kwargs)
        await self._after(statement)
        return result

    async def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        result = await self.session.scalars(statement, *args, **kwargs)
        await self._after(statement)
        return result

    async def _after(self, statement: Any) -> None:
        if getattr(statement, "is_select", False):
            await self.commit_one()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def racing_sessions(database: Database, commit_one: CommitOne) -> Callable[[], Any]:
    """A replacement for ``database.session`` whose sessions are raced by ``commit_one``
    (``database.transaction`` is left alone, for ``commit_one`` to write with)."""
    sessions = database.session

    @asynccontextmanager
    async def session() -> AsyncIterator[Any]:
        async with sessions() as real:
            yield CommitsBetweenStatements(real, commit_one)

    return session
