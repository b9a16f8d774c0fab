"""``column IN (values)`` as one parameter of one unchanging statement."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import ColumnElement, String, TypeDecorator, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

Column = ColumnElement[Any] | QueryableAttribute[Any]


def among(session: AsyncSession, column: Column, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``.

    An expanding ``IN`` is rendered again at every execution, one bound (and cast) parameter per
    value, and its text changes with the number of values, so asyncpg prepares it again for every
    new size; the array is one parameter of one unchanging statement. Elsewhere the list goes
    straight into the expanding parameter: ``in_(values)`` would first check every value for
    being an SQL expression.
    """
    return _among(session.get_bind().dialect.name, column, None, list(values))


def among_param(
    dialect_name: str, column: Column, name: str, *, json_on_sqlite: bool = False
) -> ColumnElement[bool]:
    """:func:`among` with the values bound at execution, as the list parameter ``name``.

    For statements built once per dialect: executing one skips building it and its cache key.

    ``json_on_sqlite``: ``column IN (SELECT value FROM json_each(:name))`` on SQLite, the list sent
    as one JSON text, so the statement's text is the same for every size (an expanding ``IN`` is
    rendered again at every execution, and sqlite3 prepares every new text again). SQLite's planner
    guesses that such a list holds some 25 values: only where no other index of the statement
    competes with the column's (check ``EXPLAIN QUERY PLAN``), else it may search the other one.
    Text and integer columns only: the values compare with the column's affinity.
    """
    if json_on_sqlite and dialect_name == "sqlite":
        element = _element(column)
        listed = select(func.json_each(bindparam(name, type_=_JsonList())).table_valued("value").c.value)
        return element.in_(listed)
    return _among(dialect_name, column, name, None)


class _JsonList(TypeDecorator[list[Any]]):
    """A list bound as its JSON text (for SQLite's ``json_each``)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else orjson.dumps(value).decode()


def _element(column: Column) -> ColumnElement[Any]:
    return column.__clause_element__() if isinstance(column, QueryableAttribute) else column


def _among(
    dialect_name: str, column: Column, name: str | None, values: list[Any] | None
) -> ColumnElement[bool]:
    element = _element(column)
    required = values is None
    if dialect_name == "postgresql":
        array = postgresql.ARRAY(element.type)
        return element == any_(bindparam(name, values, type_=array, required=required))
    return element.in_(bindparam(name, values, type_=element.type, expanding=True, required=required))
