"""The Alembic migrations build exactly the schema the models describe, on every engine."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kirem.config import Settings
from kirem.db.engine import create_engine
from kirem.db.migrate import upgrade_async
from kirem.tables import metadata


async def test_migrations_match_models_and_are_idempotent(settings: Settings) -> None:
    await upgrade_async(settings)
    await upgrade_async(settings)
    assert await schema_drift(settings) == []


MIGRATE_IN_A_PROCESS = """
import sys
from kirem.config import Settings
from kirem.db.migrate import upgrade
upgrade(Settings(database_url=sys.argv[1], data_dir=sys.argv[2], encryption_key=sys.argv[3]))
"""


async def test_concurrent_migrations_wait_for_each_other(
    settings: Settings, encryption_key: str, tmp_path: Path
) -> None:
    """Several ``kirem migrate`` at once (replicas starting together) each end with the schema at head."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            MIGRATE_IN_A_PROCESS,
            settings.database_url,
            str(tmp_path / "data"),
            encryption_key,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(3)
    ]
    errors = [(await process.communicate())[1].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    assert await schema_drift(settings) == []


async def schema_drift(settings: Settings) -> list[object]:
    """What the database's schema lacks or has beyond the models' (empty when they agree)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: list(compare_metadata(MigrationContext.configure(sync), metadata))
            )
    finally:
        await engine.dispose()
