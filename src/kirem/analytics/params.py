"""Query parameters shared by the log endpoints: time range and pagination, checked field by field."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kirem.api.responses import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def parse_time(name: str, value: str | None, errors: dict[str, str]) -> datetime | None:
    """ISO 8601 (``2026-06-26``, ``2026-06-26T00:20:00Z``) or Unix seconds."""
    if value is None or value == "":
        return None
    try:
        if value.isdigit():
            return datetime.fromtimestamp(int(value), UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        errors[name] = "must be an ISO 8601 date-time (2026-06-26T00:20:00Z) or Unix seconds"
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_int(
    name: str, value: str | None, default: int, low: int, high: int | None, errors: dict[str, str]
) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        errors[name] = "must be an integer"
        return default
    if number < low or (high is not None and number > high):
        errors[name] = f"must be between {low} and {high}" if high is not None else f"must be at least {low}"
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
        offset=parse_int("offset", offset, 0, 0, None, errors),
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
    """``2026-06-26T00:20:00Z``: the timestamp style of the seed's responses."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
