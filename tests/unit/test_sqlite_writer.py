"""SQLite writers of one process queue for their turn in the event loop, not in SQLite's busy handler."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.db.sqlite_writer import WriterLock, connector, serialise_writes

SHORT_BUSY_TIMEOUT = 0.05


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """An engine whose SQLite busy timeout is far shorter than any writer waits below."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'writer.db'}"
    engine = create_async_engine(url, async_creator=connector(url, WriterLock(30), SHORT_BUSY_TIMEOUT))
    serialise_writes(engine)
    async with engine.begin() as conn:
        await conn.execute(text("PRAGMA journal_mode=WAL"))
        await conn.execute(text("CREATE TABLE items (name TEXT)"))
    try:
        yield engine
    finally:
        await engine.dispose()


async def _names(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(text("SELECT name FROM items ORDER BY rowid"))).scalars())


async def test_a_writer_waits_for_the_one_before_it_longer_than_the_busy_timeout(engine: AsyncEngine) -> None:
    first_wrote = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO items VALUES ('first')"))
            first_wrote.set()
            await release_first.wait()

    async def second() -> None:
        await first_wrote.wait()
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO items VALUES ('second')"))

    first_task = asyncio.create_task(first())
    second_task = asyncio.create_task(second())
    await first_wrote.wait()
    await asyncio.sleep(SHORT_BUSY_TIMEOUT * 4)  # SQLite alone would have given up on the second by now
    assert not second_task.done()
    assert await _names(engine) == []  # reads go on beside the open write transaction
    release_first.set()
    await asyncio.gather(first_task, second_task)
    assert await _names(engine) == ["first", "second"]


async def test_the_turn_passes_on_after_a_rollback(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO items VALUES ('undone')"))
            raise RuntimeError("abandon the transaction")
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO items VALUES ('kept')"))
    assert await _names(engine) == ["kept"]


async def test_many_concurrent_writers_all_commit(engine: AsyncEngine) -> None:
    async def write(index: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("SELECT count(*) FROM items"))
            await conn.execute(text("INSERT INTO items VALUES (:name)"), {"name": f"w{index}"})
            await asyncio.sleep(0)
            await conn.execute(text("UPDATE items SET name = name WHERE name = :name"), {"name": f"w{index}"})

    await asyncio.gather(*(write(i) for i in range(40)))
    assert sorted(await _names(engine)) == sorted(f"w{i}" for i in range(40))


async def test_batched_writers_share_one_connection_beside_the_other_sessions(tmp_path: Path) -> None:
    database = Database(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'batched.db'}"))
    try:
        async with database.transaction() as session:
            await session.execute(text("CREATE TABLE items (name TEXT)"))
        connections: set[int] = set()

        async def batched(index: int) -> None:
            async with database.batch_transaction() as session:
                raw = await session.connection()
                connections.add(id((await raw.get_raw_connection()).driver_connection))
                await session.execute(text("INSERT INTO items VALUES (:name)"), {"name": f"b{index}"})
                await asyncio.sleep(0)

        async def other(index: int) -> None:
            async with database.transaction() as session:
                await session.execute(text("INSERT INTO items VALUES (:name)"), {"name": f"o{index}"})
                await asyncio.sleep(0)

        await asyncio.gather(*(batched(i) for i in range(20)), *(other(i) for i in range(20)))
        async with database.session() as session:
            names = list((await session.execute(text("SELECT name FROM items"))).scalars())
        assert sorted(names) == sorted([f"b{i}" for i in range(20)] + [f"o{i}" for i in range(20)])
        assert len(connections) == 1
    finally:
        await database.dispose()


async def test_a_batch_is_written_in_one_turn_and_a_failing_row_undoes_it(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("CREATE UNIQUE INDEX items_name ON items (name)"))
        await conn.commit()
        writer = (await conn.get_raw_connection()).driver_connection
        await writer.write_batch("INSERT INTO items VALUES (?)", [("a",), ("b",)])
        with pytest.raises(sqlite3.IntegrityError):
            await writer.write_batch("INSERT INTO items VALUES (?)", [("c",), ("a",)])
        assert writer.held is None  # the turn passed on after the failed batch too
    async with engine.begin() as conn:  # and the next writer gets it
        await conn.execute(text("INSERT INTO items VALUES ('d')"))
    assert await _names(engine) == ["a", "b", "d"]


async def test_a_statement_takes_one_turn_of_the_connection_thread(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making the cursor, executing, fetching and closing it were four hand-offs each; one now,
    with the same rows, counts, last row ids and errors through SQLAlchemy. A commit or rollback
    with no transaction open takes none."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the connection is open
        writer = (await conn.get_raw_connection()).driver_connection
        turns: list[object] = []
        run = writer._execute

        async def counted(function: object, *args: object, **kwargs: object) -> object:
            turns.append(function)
            return await run(function, *args, **kwargs)

        monkeypatch.setattr(writer, "_execute", counted)
        inserted = await conn.execute(text("INSERT INTO items VALUES ('a'), ('b')"))
        assert (inserted.rowcount, inserted.lastrowid) == (2, 2)
        assert len(turns) == 1
        many = await conn.execute(text("INSERT INTO items VALUES (:name)"), [{"name": "c"}, {"name": "d"}])
        assert many.rowcount == 2
        assert len(turns) == 2
        rows = (await conn.execute(text("SELECT rowid, name FROM items ORDER BY rowid"))).all()
        assert [tuple(row) for row in rows] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
        assert len(turns) == 3
        returned = await conn.execute(text("DELETE FROM items WHERE name > 'b' RETURNING name"))
        assert sorted(returned.scalars()) == ["c", "d"]
        assert len(turns) == 4
        with pytest.raises(OperationalError, match="no such table"):
            await conn.execute(text("SELECT * FROM missing"))
        await conn.commit()
        assert len(turns) == 6
    assert len(turns) == 6  # back in the pool: nothing to roll back, no turn for it
    assert await _names(engine) == ["a", "b"]
