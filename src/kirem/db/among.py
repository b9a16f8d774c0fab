"""``column IN (values)`` that PostgreSQL gets as one array parameter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute


def among(
    session: AsyncSession, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``.

    An expanding ``IN`` is rendered again at every execution, one bound (and cast) parameter per
    value, and its text changes with the number of values, so asyncpg prepares it again for every
    new size; the array is one parameter of one unchanging statement. Elsewhere the list goes
    straight into the expanding parameter: ``in_(values)`` would first check every value for
    being an SQL expression.
    """
    wanted = list(values)
    element = column.__clause_element__() if isinstance(column, QueryableAttribute) else column
    if session.get_bind().dialect.name == "postgresql":
        return element == any_(bindparam(None, wanted, type_=postgresql.ARRAY(element.type)))
    return element.in_(bindparam(None, wanted, type_=element.type, expanding=True))
