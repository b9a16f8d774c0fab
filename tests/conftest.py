"""Shared fixtures: settings and a fresh database on every engine the run covers.

Tests that take ``database`` run once on SQLite and, when ``KIREM_TEST_POSTGRES_URL`` is set, once
more on PostgreSQL (a throw-away database created for the run). In CI that variable is always set,
so no PostgreSQL test is skipped there.
"""

from __future__ import annotations

import os
import secrets
import shutil
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


async def create_postgres_database(template: str | None = None) -> str:
    """Create a database on the test server (empty, or a copy of ``template``) and return its URL."""
    import asyncpg

    admin = _postgres_admin_url().replace("postgresql+asyncpg://", "postgresql://")
    name = f"kirem_test_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
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


class SchemaTemplates:
    """Per engine, a database holding the tables (``metadata.create_all``), made once per session.

    A test's ``database`` starts as a copy of it (a file copy on SQLite, ``CREATE DATABASE …
    TEMPLATE`` on PostgreSQL): the same tables as creating them again, for a fraction of the work.
    """

    def __init__(self, directory: Path, encryption_key: str) -> None:
        self.directory = directory
        self.encryption_key = encryption_key
        self.urls: dict[str, str] = {}

    async def url(self, engine: str) -> str:
        if engine not in self.urls:
            if engine == "sqlite":
                url = f"sqlite+aiosqlite:///{self.directory / 'template.db'}"
            else:
                url = await create_postgres_database()
            self.urls[engine] = url
            db = Database(make_settings(self.directory, url, self.encryption_key))
            try:
                async with db.engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
            finally:
                await db.dispose()
        return self.urls[engine]

    async def copy_to(self, engine: str, tmp_path: Path) -> str:
        """A new database with the template's tables; its URL."""
        template = await self.url(engine)
        if engine == "sqlite":
            target = tmp_path / "kirem.db"
            shutil.copyfile(template.split(":///", 1)[1], target)
            return f"sqlite+aiosqlite:///{target}"
        return await create_postgres_database(template=template.rpartition("/")[2])

    async def drop(self) -> None:
        if "postgres" in self.urls:
            await drop_postgres_database(self.urls["postgres"])


@pytest.fixture(scope="session")
async def schema_templates(
    tmp_path_factory: pytest.TempPathFactory, encryption_key: str
) -> AsyncIterator[SchemaTemplates]:
    templates = SchemaTemplates(tmp_path_factory.mktemp("schema-templates"), encryption_key)
    try:
        yield templates
    finally:
        await templates.drop()


WITH_TABLES: set[str] = set()
"""Database URLs made from a schema template: their ``database`` fixture creates no tables."""


@pytest.fixture
async def database_url(
    engine_name: str, tmp_path: Path, request: pytest.FixtureRequest, schema_templates: SchemaTemplates
) -> AsyncIterator[str]:
    """An empty database, or, for a test that uses ``database``, one holding the tables already."""
    if "database" in request.fixturenames:
        url = await schema_templates.copy_to(engine_name, tmp_path)
        WITH_TABLES.add(url)
    elif engine_name == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kirem.db'}"
    else:
        url = await create_postgres_database()
    try:
        yield url
    finally:
        WITH_TABLES.discard(url)
        if engine_name != "sqlite":
            await drop_postgres_database(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, encryption_key: str) -> Settings:
    return make_settings(tmp_path, database_url, encryption_key)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    if settings.database_url not in WITH_TABLES:
        async with db.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
    try:
        yield db
    finally:
        await db.dispose()
