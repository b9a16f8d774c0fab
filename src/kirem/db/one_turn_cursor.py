"""A SQLite cursor whose statement takes one turn of the connection's thread.

SQLAlchemy's aiosqlite adapter makes a cursor, executes the statement, fetches its rows and closes
the cursor, each in a turn of its own in aiosqlite's thread: four hand-offs per statement, each a
queue put, a thread wake-up and a wake-up of the event loop, which together cost a send more CPU
than SQLite's own work. :class:`OneTurnCursor` does the four in one turn: the rows, description,
row count and last row id come back together, and fetching them or closing the cursor needs no
further turn. Every SQLite connection of the process makes these (``WriterConnection.cursor``).
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Parameters = Sequence[Any] | dict[str, Any]


class Turns(Protocol):
    """What the cursor needs of its aiosqlite connection: ``function(its sqlite3 connection, …)``
    run in its thread."""

    async def run_in_thread(self, function: Callable[..., Outcome], *args: Any, **kwargs: Any) -> Outcome: ...


@dataclass(frozen=True)
class Outcome:
    """What one statement left in its sqlite3 cursor, read before the cursor was closed."""

    rows: list[Any]
    description: Any
    rowcount: int
    lastrowid: int | None


def run_statement(
    connection: sqlite3.Connection, sql: str, parameters: Any, *, many: bool = False
) -> Outcome:
    """Run ``sql`` (once, or once per parameter set) on a cursor of its own, read everything, close it."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return Outcome(rows, cursor.description, cursor.rowcount, cursor.lastrowid)
    finally:
        cursor.close()


class OneTurnCursor:
    """The aiosqlite cursor API SQLAlchemy's adapter uses, one thread turn per statement."""

    def __init__(self, connection: Turns) -> None:
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> OneTurnCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Parameters | None = None) -> OneTurnCursor:
        given = () if parameters is None else parameters
        return self._keep(await self._connection.run_in_thread(run_statement, sql, given))

    async def executemany(self, sql: str, parameters: Iterable[Parameters]) -> OneTurnCursor:
        outcome = await self._connection.run_in_thread(run_statement, sql, parameters, many=True)
        return self._keep(outcome)

    def _keep(self, outcome: Outcome) -> OneTurnCursor:
        self._rows = deque(outcome.rows)
        self.description = outcome.description
        self.rowcount = outcome.rowcount
        self.lastrowid = outcome.lastrowid
        return self

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(len(self._rows), self.arraysize if size is None else size)
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()
