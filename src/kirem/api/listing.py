"""The query parameters of the API's lists: a page (``limit``, ``offset``) and a time window
(``since``, ``until``), published with their types and read as text by :mod:`kirem.kit.params`.

The dependencies never refuse: a route adds its own filters' errors to ``errors`` and refuses them
all at once (``raise_if``), in the order they were found.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends

from kirem.api.route_docs import answers
from kirem.api.schemas import AUTHENTICATED, TIMESTAMP, integer, responses, typed_query
from kirem.kit.params import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, Window, parse_int, parse_window

SINCE = typed_query(TIMESTAMP, "Created at or after (ISO 8601 or Unix seconds)")
UNTIL = typed_query(TIMESTAMP, "Created at or before (ISO 8601 or Unix seconds)")
LIMIT = typed_query(integer(1, MAX_LIMIT), "Page size (default 50)")
OFFSET = typed_query(integer(0, MAX_OFFSET), "Rows to skip")


class Page:
    """``?limit&offset``: ``limit`` rows from row ``offset`` (defaults 50 and 0)."""

    def __init__(self, limit: str | None = LIMIT, offset: str | None = OFFSET) -> None:
        self.errors: dict[str, str] = {}
        self.limit = parse_int("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT, self.errors)
        self.offset = parse_int("offset", offset, 0, 0, MAX_OFFSET, self.errors)

    def of(self, total: int, key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """This page of a list as the API answers it: ``{total, limit, offset, <key>: rows}``."""
        return {"total": total, "limit": self.limit, "offset": self.offset, key: rows}


class TimeWindow:
    """``?since&until&limit&offset``: a page of the rows created in a time range."""

    def __init__(
        self,
        since: str | None = SINCE,
        until: str | None = UNTIL,
        limit: str | None = LIMIT,
        offset: str | None = OFFSET,
    ) -> None:
        self.errors: dict[str, str] = {}
        self.window: Window = parse_window(since, until, limit, offset, self.errors)


def listed(
    model: Any,
    message: str,
    key: str,
    *rows: Any,
    limit: int = DEFAULT_LIMIT,
    errors: dict[int | str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A list route's decorator keywords (:func:`kirem.api.answers.answers`): ``rows`` as the example
    page, and what a list may refuse (``errors`` replace those answers)."""
    page = {"total": len(rows), "limit": limit, "offset": 0, key: list(rows)}
    return answers(model, message, page, errors or responses(400, *AUTHENTICATED))


PageDep = Annotated[Page, Depends()]
WindowDep = Annotated[TimeWindow, Depends()]
