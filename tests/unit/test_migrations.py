"""The Alembic migrations build exactly the schema the models describe, on every engine."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kirem.config import Settings
from kirem.db.engine import create_engine
from kirem.db.migrate import upgrade_async
from kirem.tables import metadata


async def test_migrations_match_models_and_are_idempotent(settings: Settings) -> None:
    await upgrade_async(settings)
    await upgrade_async(settings)
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
