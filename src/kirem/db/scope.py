"""The one place tenant data is scoped: every query for a project's rows starts here."""

from __future__ import annotations

import functools
from typing import Any, ClassVar, Protocol, TypeVar, cast

from sqlalchemy import CursorResult, Result, Select, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute


class ProjectRow(Protocol):
    """A mapped model whose rows belong to one project (the column, as seen on the class)."""

    project_id: ClassVar[InstrumentedAttribute[str]]


class OwnedRow(ProjectRow, Protocol):
    """A project's row that has its own id."""

    id: ClassVar[InstrumentedAttribute[Any]]


RowT = TypeVar("RowT", bound=ProjectRow)
OwnedT = TypeVar("OwnedT", bound=OwnedRow)


def for_project(model: type[RowT], project_id: str) -> Select[RowT]:
    """``SELECT model WHERE model.project_id = :project_id``: extend it, never bypass it."""
    return select(model).where(model.project_id == project_id)


async def get_owned(
    session: AsyncSession, model: type[OwnedT], row_id: Any, project_id: str
) -> OwnedT | None:
    """The row with this id if it belongs to the project; a foreign id is simply not found."""
    stmt = for_project(model, project_id).where(model.id == row_id)
    return (await session.execute(stmt)).scalar_one_or_none()


def upsert(session: AsyncSession, model: type[Any] | Table) -> postgresql.Insert | sqlite.Insert:
    """The session's dialect's ``INSERT`` of ``model``, which has ``on_conflict_do_nothing/update``."""
    return dialect_insert(session.get_bind().dialect.name, model)


def dialect_insert(dialect_name: str, model: type[Any] | Table) -> postgresql.Insert | sqlite.Insert:
    """:func:`upsert` for a dialect named: for statements built once per dialect."""
    if dialect_name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


async def insert_if_absent(session: AsyncSession, model: type[Any], **values: Any) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING`` on either engine: no error, no rollback, no expired objects.

    True when the row was inserted, False when it was already there.
    """
    statement = upsert(session, model).values(values).on_conflict_do_nothing()
    return changed_rows(await session.execute(statement)) == 1


async def insert_all_if_absent(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """``insert_if_absent`` of several rows (all with the same keys) in one round trip.

    One single-row statement of the table, compiled once and run for every row (``executemany``):
    a multi-row ``VALUES`` is compiled again for every new number of rows, and the ORM's bulk
    insert builds it row by row. PostgreSQL's driver does not count an ``executemany``'s rows, so
    nothing is counted.
    """
    if rows:
        stmt = _insert_all_if_absent(session.get_bind().dialect.name, model.__table__)
        await session.execute(stmt, rows)


@functools.cache
def _insert_all_if_absent(dialect_name: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The statement of :func:`insert_all_if_absent`, built once per dialect and table."""
    return dialect_insert(dialect_name, table).on_conflict_do_nothing()


def changed_rows(result: Result[*tuple[Any, ...]]) -> int:
    """How many rows an INSERT, UPDATE or DELETE touched.

    The session answers a DML statement with a ``CursorResult`` but types every answer as ``Result``.
    """
    return int(cast("CursorResult[Any]", result).rowcount)


async def flush_unique(session: AsyncSession, conflict: Exception) -> None:
    """Flush new rows; losing a unique constraint to a concurrent insert raises ``conflict``, not a 500.

    A name or number checked free just before can be taken by another transaction meanwhile; the
    constraint is the real check. The session is rolled back: the request that raised is over.
    """
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        raise conflict from exc
