"""PostgreSQL connections are pinged before use only after sitting idle in the pool."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from kirem.db import idle_ping
from kirem.db.engine import Database
from tests.conftest import ENGINES

# the pooled connections pinged here are PostgreSQL's (SQLite has no server to lose)
pytestmark = pytest.mark.parametrize("engine_name", [e for e in ENGINES if e == "postgres"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(idle_ping.time, "monotonic", clock)
    return clock


@pytest.fixture
def pings(database: Database, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    dialect = database.engine.sync_engine.dialect
    seen: list[object] = []
    real = dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        seen.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted)
    return seen


async def backend_pid(database: Database) -> int:
    async with database.engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_used_moments_ago_is_not_pinged(
    database: Database, clock: Clock, pings: list[object]
) -> None:
    first = await backend_pid(database)
    for _ in range(5):
        clock.now += idle_ping.IDLE_PING_SECONDS / 2
        assert await backend_pid(database) == first
    assert pings == []


async def test_an_idle_connection_is_pinged_before_use(
    database: Database, clock: Clock, pings: list[object]
) -> None:
    first = await backend_pid(database)
    clock.now += idle_ping.IDLE_PING_SECONDS + 1
    assert await backend_pid(database) == first
    assert len(pings) == 1


async def test_an_idle_connection_the_server_dropped_is_replaced(database: Database, clock: Clock) -> None:
    lost = await backend_pid(database)
    async with database.autocommit() as admin:
        assert await admin.scalar(text(f"SELECT pg_terminate_backend({lost})"))
    clock.now += idle_ping.IDLE_PING_SECONDS + 1
    replacement = await backend_pid(database)
    assert replacement != lost
