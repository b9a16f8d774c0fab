"""A transaction made on demand: no session unless used; used, it commits or rolls back as usual."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.db.on_demand import transaction_on_demand
from kirem.sandbox.models import SandboxWindow
from tests.unit.test_sandbox_send_caches import CUSTOMER


class CountingFactory:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.made = 0

    def __call__(self) -> AsyncSession:
        self.made += 1
        return self.database.sessions()


def window() -> SandboxWindow:
    return SandboxWindow(phone_number_id="106540352242922", wa_id=CUSTOMER, last_inbound_at=utcnow())


async def windows(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(SandboxWindow)) or 0)


async def test_an_unused_transaction_makes_no_session(database: Database) -> None:
    factory = CountingFactory(database)
    async with transaction_on_demand(factory):
        pass
    assert factory.made == 0


async def test_a_used_transaction_commits_when_the_block_ends(database: Database) -> None:
    factory = CountingFactory(database)
    async with transaction_on_demand(factory) as session:
        session.add(window())
    assert factory.made == 1
    assert await windows(database) == 1


async def test_a_used_transaction_rolls_back_when_the_block_raises(database: Database) -> None:
    factory = CountingFactory(database)
    with pytest.raises(RuntimeError):
        async with transaction_on_demand(factory) as session:
            session.add(window())
            await session.flush()
            raise RuntimeError("refused")
    assert await windows(database) == 0
