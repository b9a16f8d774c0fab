"""The SQLite database and its WAL/SHM files are readable by their owner only."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from kirem.config import Settings
from kirem.db.engine import create_engine


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def _write(path: Path) -> None:
    engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
        async with engine.connect() as conn:  # the WAL and SHM files exist while a connection is open
            await conn.execute(text("SELECT * FROM t"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            assert all(p.exists() for p in files)
            assert {str(p.name): _mode(p) for p in files} == {str(p.name): 0o600 for p in files}
    finally:
        await engine.dispose()


async def test_a_fresh_database_is_created_owner_only(tmp_path: Path, permissive_umask: None) -> None:
    await _write(tmp_path / "fresh.db")


async def test_an_existing_readable_database_is_tightened_when_opened(
    tmp_path: Path, permissive_umask: None
) -> None:
    path = tmp_path / "old.db"
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        name.touch()
        name.chmod(0o644)
    await _write(path)
