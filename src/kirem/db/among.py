"""``column IN (values)`` that PostgreSQL gets as one array parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql
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


def among_param(dialect_name: str, column: Column, name: str) -> ColumnElement[bool]:
    """:func:`among` with the values bound at execution, as the list parameter ``name``.

    For statements built once per dialect: executing one skips building it and its cache key.
    """
    return _among(dialect_name, column, name, None)


def _among(
    dialect_name: str, column: Column, name: str | None, values: list[Any] | None
) -> ColumnElement[bool]:
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    required = values is None
    if dialect_name == "postgresql":
        array = postgresql.ARRAY(element.type)
        return element == any_(bindparam(name, values, type_=array, required=required))
    return element.in_(bindparam(name, values, type_=element.type, expanding=True, required=required))
