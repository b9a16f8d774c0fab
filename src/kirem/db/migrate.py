"""``kirem migrate``: bring the database schema to the newest Alembic revision."""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config

from kirem.config import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["settings"] = settings
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Run pending migrations (blocking; call before the event loop serves requests).

    Concurrent runs (replicas starting together) wait for each other: on PostgreSQL behind an
    advisory lock (``migrations/env.py``), on SQLite behind a file lock beside the database."""
    database = _sqlite_file(settings.database_url) if settings.is_sqlite else None
    if database is None:
        command.upgrade(alembic_config(settings), revision)
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(database.with_name(database.name + ".migrate-lock")):
        command.upgrade(alembic_config(settings), revision)


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, settings, revision)


def _sqlite_file(url: str) -> Path | None:
    path = url.split(":///", 1)[-1]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser().resolve()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
