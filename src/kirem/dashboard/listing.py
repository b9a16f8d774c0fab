"""Filtered, paged lists (deliveries, message logs): the filters a query string or form gives, the
page asked for, and the rows that page shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kirem.kit.params import Window, parse_int, parse_window

PAGE_SIZE = 50
MAX_PAGE = 100_000


def present_filters(source: Any, names: tuple[str, ...]) -> dict[str, str]:
    """The filters ``names`` present in a query string or a form, as text."""
    return {name: value for name in names if isinstance(value := source.get(name), str) and value.strip()}


def filter_window(filters: dict[str, str], errors: dict[str, str]) -> Window:
    """The ``since`` and ``until`` filters, checked as the API checks them (refusals into ``errors``)."""
    return parse_window(filters.get("since"), filters.get("until"), str(PAGE_SIZE), None, errors)


@dataclass(frozen=True)
class Listing:
    """One page of a filtered list; ``errors`` gathers the refusals of the page and every filter."""

    filters: dict[str, str]
    errors: dict[str, str]
    page: int
    window: Window
    """The filters' time window, narrowed to the rows of ``page``."""

    def context(
        self, rows: list[dict[str, Any]], total: int, page_url: Callable[[int], str]
    ) -> dict[str, Any]:
        """What every list template draws: the filter form, the rows and the pager."""
        return {
            "filters": self.filters,
            "errors": self.errors,
            "rows": rows,
            "total": total,
            "page": self.page,
            "has_next": self.page * PAGE_SIZE < total,
            "page_url": page_url,
        }


def listing(params: Any, names: tuple[str, ...]) -> Listing:
    """The page and filters ``names`` of a list's query string."""
    filters = present_filters(params, names)
    errors: dict[str, str] = {}
    page = parse_int("page", params.get("page"), 1, 1, MAX_PAGE, errors)
    window = filter_window(filters, errors)
    paged = Window(window.since, window.until, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    return Listing(filters, errors, page, paged)
