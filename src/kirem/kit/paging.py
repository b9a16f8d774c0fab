"""Count-and-page: the total of a filtered query and one page of it, ordered, for every list endpoint."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from kirem.kit.params import Window

Column = ColumnElement[Any] | QueryableAttribute[Any]


def in_window(stmt: Select[Any], column: Column, window: Window) -> Select[Any]:
    """``stmt`` narrowed to rows whose ``column`` falls within the window's since and until."""
    if window.since:
        stmt = stmt.where(column >= window.since)
    if window.until:
        stmt = stmt.where(column <= window.until)
    return stmt


async def total_of(session: AsyncSession, stmt: Select[Any]) -> int:
    """How many rows the filtered statement finds (before limit and offset)."""
    return int(await session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


async def rows_of(session: AsyncSession, stmt: Select[Any]) -> list[Any]:
    """Every row the statement selects, as the objects of its first column."""
    return list((await session.execute(stmt)).scalars())


async def counted_page(
    session: AsyncSession, stmt: Select[Any], page: Select[Any], *, offset: int
) -> tuple[int, list[tuple[Any, ...]]]:
    """The total of ``stmt`` and the rows of ``page`` (``stmt`` ordered and cut at ``offset``).

    Both come from one statement, the total a column of every row, so they are read from one
    snapshot on either engine: a row committed meanwhile is in both or in neither. Only a page
    past the end, which has no row to carry the total, counts apart; a count that then reaches
    into the page means rows came in between, and the page is read again.
    """
    total = select(func.count()).select_from(stmt.subquery()).scalar_subquery()
    while True:
        rows = (await session.execute(page.add_columns(total))).all()
        if rows:
            return int(rows[0][-1]), [tuple(row[:-1]) for row in rows]
        if offset == 0:
            return 0, []
        counted = await total_of(session, stmt)
        if counted <= offset:
            return counted, []


async def page_of(
    session: AsyncSession,
    stmt: Select[Any],
    order_by: Sequence[Column],
    *,
    limit: int,
    offset: int,
) -> tuple[int, list[Any]]:
    """The total and the rows of one page, in ``order_by`` (which must end on a unique column),
    read together (:func:`counted_page`)."""
    page = stmt.order_by(*order_by).limit(limit).offset(offset)
    total, rows = await counted_page(session, stmt, page, offset=offset)
    return total, [row[0] for row in rows]


async def last_page(
    session: AsyncSession, stmt: Select[Any], order_by: Sequence[Column], *, limit: int, back: int = 0
) -> tuple[int, list[Any]]:
    """The total and the page ``back`` pages before the end of ``stmt`` in ``order_by`` (which must
    end on a unique column), in that order; once the rows do not reach that far back, their first
    ``limit``.

    One statement: the count is a common table expression that both the offset and a column of every
    row read, so the total and the page come from one snapshot (a row committed meanwhile is in both
    or in neither) and there is no second read, even for an empty page.
    """
    counted = select(func.count().label("total")).select_from(stmt.subquery()).cte("counted")
    total = select(counted.c.total).scalar_subquery()
    start = total - limit * (back + 1)
    page = stmt.add_columns(total).order_by(*order_by).limit(limit).offset(case((start > 0, start), else_=0))
    rows = (await session.execute(page)).all()
    return (int(rows[0][-1]) if rows else 0), [row[0] for row in rows]


def listing(key: str, items: list[Any], *, total: int, limit: int, offset: int) -> dict[str, Any]:
    """A log list in the seed's shape: ``{"total", "limit", "offset", key: items}``."""
    return {"total": total, "limit": limit, "offset": offset, key: items}


async def newest_listing(
    session: AsyncSession,
    stmt: Select[Any],
    newest: tuple[Column, Column],
    window: Window,
    key: str,
    view: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """The window's page of ``stmt``, newest first by ``newest`` (time, id), as a :func:`listing`."""
    time, row_id = newest
    order = (time.desc(), row_id.desc())
    total, rows = await page_of(session, stmt, order, limit=window.limit, offset=window.offset)
    return listing(key, [view(row) for row in rows], total=total, limit=window.limit, offset=window.offset)
