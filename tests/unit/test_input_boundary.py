"""The input boundary's pure pieces: NUL detection and bounded numbers from query strings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kirem.api.nul_guard import json_field, query_field
from kirem.kit.params import MAX_OFFSET, parse_int, parse_time, parse_window


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"text": {"body": "a\\u0000b"}}', "text.body"),
        (b'{"components": [{"text": "ok"}, {"text": "\\u0000"}]}', "components[1].text"),
        (b'{"a": {"\\u0000key": 1}}', "a"),
        (b'{"\\u0000": 1}', "body"),
        (b'["x", "\\u0000"]', "[1]"),
        (b'"\\u0000"', "body"),
        (b'{"path": "C:\\\\u0000"}', None),  # a backslash then "u0000": no NUL
        (b'{"text": "fine"}', None),
        (b'{"broken": "\\u0000', None),  # malformed: the route answers that itself
    ],
)
def test_json_field_names_where_the_nul_is(body: bytes, field: str | None) -> None:
    assert json_field(body) == field


def test_query_field_names_the_parameter() -> None:
    assert query_field(b"status=open&recipient=62%00812") == "recipient"
    assert query_field(b"a%00b=1") == "query"
    assert query_field(b"status=open&limit=5") is None
    assert query_field(b"") is None


@pytest.mark.parametrize(
    "value",
    ["99999999999999999999999", "-1", "ten", "\u0663", "\uff12", "+3", " 3", "1_0", "1e3", "9" * 5000],
)
def test_parse_int_refuses_anything_but_ascii_digits_in_range(value: str) -> None:
    errors: dict[str, str] = {}
    assert parse_int("offset", value, 0, 0, MAX_OFFSET, errors) == 0
    assert errors == {"offset": f"must be an integer between 0 and {MAX_OFFSET}"}


def test_parse_int_takes_the_bounds_themselves() -> None:
    errors: dict[str, str] = {}
    assert parse_int("offset", str(MAX_OFFSET), 0, 0, MAX_OFFSET, errors) == MAX_OFFSET
    assert parse_int("limit", "1", 50, 1, 500, errors) == 1
    assert parse_int("limit", None, 50, 1, 500, errors) == 50
    assert errors == {}


@pytest.mark.parametrize(
    "value",
    [
        "99999999999999999999999",
        "253402300800",
        "-1",
        "\uff11\uff17\uff10\uff10\uff10\uff10\uff10\uff10\uff10\uff10",
        "\u0661\u0667\u0660\u0660\u0660\u0660\u0660\u0660\u0660\u0660",
        "99999-01-01",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "yesterday",
    ],
)
def test_parse_time_refuses_out_of_range_and_non_ascii(value: str) -> None:
    errors: dict[str, str] = {}
    assert parse_time("since", value, errors) is None
    assert "since" in errors and "253402300799" in errors["since"]


def test_parse_time_reads_unix_seconds_and_iso_in_utc() -> None:
    errors: dict[str, str] = {}
    assert parse_time("since", "0", errors) == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_time("until", "253402300799", errors) == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_time("since", "2026-06-26T07:00:00+07:00", errors) == datetime(2026, 6, 26, tzinfo=UTC)
    assert errors == {}


def test_parse_window_names_each_bad_parameter() -> None:
    errors: dict[str, str] = {}
    parse_window("x", "٣", "0", "99999999999999999999", errors)
    assert set(errors) == {"since", "until", "limit", "offset"}
