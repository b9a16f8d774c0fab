"""Query parameters of every list endpoint: time range and pagination, checked field by field.

Every number read from a query string goes through :func:`parse_int` (or :func:`parse_time`):
ASCII digits only (``int()`` would take Arabic-Indic or full-width digits, ``+5``, ``1_0`` and
4,000-digit strings) and always bounded, so nothing beyond a database's integer range reaches a query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from kirem.api.responses import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 2**31 - 1
MAX_UNIX_SECONDS = 253402300799
"""9999-12-31T23:59:59Z, the last second an ISO 8601 date-time can name."""
_INTEGER = re.compile(r"-?[0-9]{1,19}", re.ASCII)
TIME_FORMAT = "an ISO 8601 date-time (2026-06-26T00:20:00Z) or Unix seconds between 0 and 253402300799"


def parse_time(name: str, value: str | None, errors: dict[str, str]) -> datetime | None:
    """ISO 8601 (``2026-06-26``, ``2026-06-26T00:20:00Z``) or Unix seconds, up to the year 9999."""
    if value is None or value == "":
        return None
    try:
        if _INTEGER.fullmatch(value):
            seconds = int(value)
            if not 0 <= seconds <= MAX_UNIX_SECONDS:
                raise ValueError(value)
            return datetime.fromtimestamp(seconds, UTC)
        if not value.isascii():
            raise ValueError(value)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):  # an offset may push year 1 or 9999 out of range
        errors[name] = f"must be {TIME_FORMAT}"
        return None


def parse_int(name: str, value: str | None, default: int, low: int, high: int, errors: dict[str, str]) -> int:
    """``value`` as an integer in ``[low, high]``; else ``default`` and an error naming the range."""
    if value is None or value == "":
        return default
    number = int(value) if _INTEGER.fullmatch(value) else None
    if number is None or not low <= number <= high:
        errors[name] = f"must be an integer between {low} and {high}"
        return default
    return number


@dataclass(frozen=True)
class Window:
    since: datetime | None
    until: datetime | None
    limit: int
    offset: int


def parse_window(
    since: str | None, until: str | None, limit: str | None, offset: str | None, errors: dict[str, str]
) -> Window:
    window = Window(
        since=parse_time("since", since, errors),
        until=parse_time("until", until, errors),
        limit=parse_int("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT, errors),
        offset=parse_int("offset", offset, 0, 0, MAX_OFFSET, errors),
    )
    if window.since and window.until and window.since > window.until:
        errors["until"] = "must not be before since"
    return window


def parse_bool(name: str, value: str | None, errors: dict[str, str]) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    errors[name] = "must be true or false"
    return None


def raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise invalid(errors, "Invalid query parameters")


def iso(value: datetime | None) -> str | None:
    """``2026-06-26T00:20:00Z``: the timestamp style of every API response (UTC, seconds, ``Z``)."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
