"""The webhook forms' view-model: form fields to the API's bodies and back, and errors by field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kirem.dashboard.hooks_forms import (
    conditions_body,
    conditions_form,
    echo_target_form,
    merge_field_errors,
    parse_headers,
    split_list,
    target_body,
    target_form,
)
from kirem.dashboard.i18n.hooks import MESSAGES
from kirem.routing.conditions import KEYS, parse_conditions

TEMPLATES = Path(__file__).parents[2] / "src" / "kirem" / "dashboard" / "templates" / "hooks"


def test_lists_split_on_lines_and_commas_without_blanks() -> None:
    assert split_list("628*\n US.* ,\n\n order, pesan ") == ["628*", "US.*", "order", "pesan"]
    assert split_list("  \n , ") == []


def test_headers_are_name_value_lines_and_a_line_without_colon_is_left_to_the_service() -> None:
    assert parse_headers("Authorization: Bearer a:b\n\nX-Shop:  1 ") == {
        "Authorization": "Bearer a:b",
        "X-Shop": "1",
    }
    assert parse_headers("no colon here") == "no colon here"
    assert parse_headers("") == {}


def test_the_target_form_builds_the_api_body_with_numbers_and_defaults() -> None:
    form = {
        "url": " https://shop.example/hook ",
        "description": "shop",
        "payload_format": "meta",
        "headers": "X-Token: t",
        "timeout_seconds": "2.5",
        "max_attempts": "3",
        "retry_schedule": "0, 5\n30",
    }
    assert target_body(form, ["messages.received"]) == {
        "url": "https://shop.example/hook",
        "description": "shop",
        "payload_format": "meta",
        "events": ["messages.received"],
        "headers": {"X-Token": "t"},
        "timeout_seconds": 2.5,
        "max_attempts": 3,
        "retry_schedule": [0, 5, 30],
    }
    empty = target_body({"url": "https://x.example"}, [])
    assert empty["timeout_seconds"] is None and empty["max_attempts"] is None
    assert empty["retry_schedule"] is None and empty["payload_format"] == "kirem" and empty["headers"] == {}


def test_text_where_a_number_belongs_reaches_the_service_as_text() -> None:
    body = target_body({"url": "https://x.example", "timeout_seconds": "abc", "max_attempts": "1e3"}, [])
    assert body["timeout_seconds"] == "abc" and body["max_attempts"] == "1e3"
    assert target_body({"url": "u", "retry_schedule": "soon, 5"}, [])["retry_schedule"] == ["soon", 5]


def test_a_target_view_fills_the_form_and_round_trips() -> None:
    view = {
        "url": "https://x.example",
        "description": "d",
        "payload_format": "kirem",
        "events": ["messages.status"],
        "headers": {"Authorization": "****"},
        "timeout_seconds": 10.0,
        "max_attempts": 8,
        "retry_schedule": [0.0, 60.0],
    }
    values = target_form(view)
    assert values["headers"] == "Authorization: ****" and values["timeout_seconds"] == "10"
    assert values["retry_schedule"] == "0, 60"
    form = {key: value for key, value in values.items() if key != "events"}
    body = target_body(form, values["events"])
    assert body["headers"] == {"Authorization": "****"} and body["retry_schedule"] == [0, 60]
    assert echo_target_form(form, ["messages.status"])["events"] == ["messages.status"]


def test_the_condition_fields_build_every_condition_the_api_accepts() -> None:
    form = {"senders": "628*\nUS.*", "keywords": "order, pesan", "regex": "(?i)#[0-9]+"}
    choices = {"event_types": ["messages.received"], "message_types": ["voice"], "channel_ids": ["chan_1"]}
    conditions, errors = conditions_body(form, choices)
    assert errors == {} and conditions is not None
    assert set(conditions) == set(KEYS)
    parsed, problems = parse_conditions(conditions)
    assert problems == {} and parsed is not None
    assert parsed.to_json() == conditions
    assert conditions_body({}, {}) == ({}, {})


def test_raw_json_is_taken_as_written_and_bad_json_is_a_field_error() -> None:
    assert conditions_body({"mode": "json", "conditions_json": '{"keywords": ["a"]}'}, {}) == (
        {"keywords": ["a"]},
        {},
    )
    assert conditions_body({"mode": "json", "conditions_json": " "}, {}) == ({}, {})
    conditions, errors = conditions_body({"mode": "json", "conditions_json": "{nope"}, {})
    assert conditions is None and "conditions_json" in errors


def test_stored_conditions_fill_the_editor() -> None:
    values = conditions_form(
        {"senders": ["628*", "US.*"], "event_types": ["messages.received"], "regex": "x"}
    )
    assert values["senders"] == "628*\nUS.*" and values["event_types"] == ["messages.received"]
    assert values["keywords"] == "" and values["message_types"] == [] and values["regex"] == "x"
    assert '"senders"' in values["conditions_json"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("conditions.senders[2]", "senders"),
        ("conditions.regex", "regex"),
        ("conditions.colour", "conditions_json"),
        ("conditions", "conditions_json"),
        ("headers.X-Token", "headers"),
        ("events[0]", "events"),
        ("target_ids[1]", "target_ids"),
        ("url", "url"),
    ],
)
def test_service_errors_land_on_their_form_field(path: str, field: str) -> None:
    merged = merge_field_errors({path: "bad", "form": "Validation failed"})
    assert field in merged and merged["form"] == "Validation failed"


def test_several_errors_of_one_field_are_joined_with_their_paths() -> None:
    merged = merge_field_errors(
        {"conditions.senders[0]": "not a number", "conditions.senders[3]": "too long"}
    )
    assert merged == {"senders": "senders[0]: not a number; senders[3]: too long"}
    assert merge_field_errors({"conditions.regex": "invalid", "headers.X-A": "reserved"}) == {
        "regex": "invalid",
        "headers": "headers.X-A: reserved",
    }


def test_every_message_exists_in_both_languages_and_every_template_key_is_defined() -> None:
    english, indonesian = MESSAGES["en"], MESSAGES["id"]
    assert set(english) == set(indonesian)
    assert all(text.strip() for text in [*english.values(), *indonesian.values()])
    used = {
        key
        for template in TEMPLATES.glob("*.html")
        for key in re.findall(r"""t\(["'](hooks\.[a-z_.]+[a-z_])["']""", template.read_text())
    }
    assert used and used <= set(english), sorted(used - set(english))
