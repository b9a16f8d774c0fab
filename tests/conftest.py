"""Shared fixtures: settings and a fresh database on every engine the run covers.

Tests that take ``database`` run once on SQLite and, when ``KIREM_TEST_POSTGRES_URL`` is set, once
more on PostgreSQL (a throw-away database created for the run). In CI that variable is always set,
so no PostgreSQL test is skipped there.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kirem.config import Settings
from kirem.crypto import generate_key_spec
from kirem.db.engine import Database
from kirem.tables import metadata

pytest_plugins = ["tests.browser"]

POSTGRES_URL = os.environ.get("KIREM_TEST_POSTGRES_URL")
if os.environ.get("CI") and not POSTGRES_URL:
    raise RuntimeError("CI must run the PostgreSQL half of the suite: set KIREM_TEST_POSTGRES_URL")
ENGINES = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


def _postgres_admin_url() -> str:
    assert POSTGRES_URL
    url = POSTGRES_URL
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+asyncpg://" + url.split("://", 1)[1]
    return url


async def create_postgres_database() -> str:
    """Create an empty database on the test server and return its URL."""
    import asyncpg

    admin = _postgres_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    name = f"kirem_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base, _, _ = _postgres_admin_url().rpartition("/")
    return f"{base}/{name}"


async def drop_postgres_database(url: str) -> None:
    import asyncpg

    admin = _postgres_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def encryption_key() -> str:
    return generate_key_spec("test")


def make_settings(tmp_path: Path, database_url: str, encryption_key: str, **extra: object) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        encryption_key=encryption_key,
        sandbox=True,
        sandbox_app_secret="sandbox-app-secret",
        sandbox_review_seconds=0.0,
        sandbox_status_delay_seconds=0.0,
        operator_token="operator-secret",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(engine_name: str, tmp_path: Path) -> AsyncIterator[str]:
    if engine_name == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'kirem.db'}"
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, encryption_key: str) -> Settings:
    return make_settings(tmp_path, database_url, encryption_key)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield db
    finally:
        await db.dispose()
