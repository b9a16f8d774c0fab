"""Validation of routing rule conditions (kirem.routing.conditions)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kirem.routing.conditions import EVENT_TYPES, MESSAGE_TYPES, Conditions, parse_conditions


def ok(raw: Any) -> Conditions:
    conditions, errors = parse_conditions(raw)
    assert errors == {}
    assert conditions is not None
    return conditions


def errors_of(raw: Any) -> dict[str, str]:
    conditions, errors = parse_conditions(raw)
    assert conditions is None
    assert errors
    return errors


def test_constants() -> None:
    assert EVENT_TYPES == (
        "messages.received",
        "messages.status",
        "messages.echo",
        "history.sync",
        "contacts.sync",
        "templates.status",
        "account.update",
        "targets.disabled",
        "sla.breached",
        "sla.recovered",
        "channels.connected",
    )
    for kind in (
        "text",
        "image",
        "audio",
        "voice",
        "interactive",
        "button",
        "request_welcome",
        "unsupported",
    ):
        assert kind in MESSAGE_TYPES


@pytest.mark.parametrize("raw", [None, {}])
def test_no_conditions(raw: Any) -> None:
    conditions = ok(raw)
    assert conditions.is_empty
    assert conditions.to_json() == {}


def test_full_parse_and_round_trip() -> None:
    raw = {
        "event_types": ["messages.received"],
        "message_types": ["text", "image", "voice"],
        "senders": ["+62 812-3456-789", "628*", "628*"],
        "keywords": ["Promo", "DISKON"],
        "regex": r"(?i)order\s+#\d+",
        "channel_ids": ["chn_1"],
    }
    conditions = ok(raw)
    assert conditions.senders == ("628123456789", "628*")
    assert conditions.keywords == ("Promo", "DISKON")
    assert conditions.folded_keywords == ("promo", "diskon")
    assert conditions.compiled_regex.search("my ORDER #12") is not None
    stored = conditions.to_json()
    assert stored == {**raw, "senders": ["628123456789", "628*"]}
    assert ok(stored) == conditions


def test_direct_construction_compiles() -> None:
    conditions = Conditions(keywords=("Ya",), regex="^ya$")
    assert conditions.folded_keywords == ("ya",)
    assert conditions.compiled_regex.search("ya") is not None


@pytest.mark.parametrize(
    ("raw", "path", "fragment"),
    [
        ([], "conditions", "must be an object"),
        ("x", "conditions", "must be an object"),
        ({"colour": ["red"]}, "conditions.colour", "colour"),
        ({"event_types": []}, "conditions.event_types", "must not be empty"),
        ({"event_types": "messages.received"}, "conditions.event_types", "must be a list"),
        (
            {"event_types": ["messages.sent"]},
            "conditions.event_types[0]",
            "unknown event type 'messages.sent'",
        ),
        ({"message_types": ["text", "gif"]}, "conditions.message_types[1]", "unknown message type 'gif'"),
        ({"message_types": [1]}, "conditions.message_types[0]", "must be a string"),
        (
            {"senders": ["628*", "62 8", "abc"]},
            "conditions.senders[2]",
            "neither a phone number nor a business-scoped user id",
        ),
        ({"senders": ["*"]}, "conditions.senders[0]", "neither a phone number nor a business-scoped user id"),
        (
            {"senders": ["62*8"]},
            "conditions.senders[0]",
            "neither a phone number nor a business-scoped user id",
        ),
        (
            {"senders": ["1234567890123456"]},
            "conditions.senders[0]",
            "neither a phone number nor a business-scoped user id",
        ),
        ({"keywords": ["ok", ""]}, "conditions.keywords[1]", "must not be empty"),
        ({"keywords": ["   "]}, "conditions.keywords[0]", "must not be empty"),
        ({"keywords": ["x" * 201]}, "conditions.keywords[0]", "at most 200 characters"),
        ({"keywords": ["k"] * 101}, "conditions.keywords", "at most 100 items"),
        ({"keywords": None}, "conditions.keywords", "must be a list"),
        ({"channel_ids": [None]}, "conditions.channel_ids[0]", "must be a string"),
        ({"channel_ids": {"a": 1}}, "conditions.channel_ids", "must be a list"),
        ({"regex": ["a"]}, "conditions.regex", "must be a string"),
        ({"regex": ""}, "conditions.regex", "must not be empty"),
        ({"regex": "a" * 1001}, "conditions.regex", "at most 1000 characters"),
        ({"regex": "("}, "conditions.regex", "invalid RE2 regular expression: "),
        ({"regex": r"(a)\1"}, "conditions.regex", "invalid RE2 regular expression: "),
        ({"regex": "(?=a)b"}, "conditions.regex", "invalid RE2 regular expression: "),
        ({"regex": "(?<!a)b"}, "conditions.regex", "invalid RE2 regular expression: "),
        ({"regex": "\ud800"}, "conditions.regex", "invalid RE2 regular expression: "),
    ],
)
def test_invalid(raw: Any, path: str, fragment: str) -> None:
    errors = errors_of(raw)
    assert path in errors, errors
    assert fragment in errors[path]


def test_all_errors_reported_at_once() -> None:
    errors = errors_of({"nope": 1, "regex": "[", "senders": ["x", "628*", "y"], "keywords": []})
    assert set(errors) == {
        "conditions.nope",
        "conditions.regex",
        "conditions.senders[0]",
        "conditions.senders[2]",
        "conditions.keywords",
    }
    assert errors["conditions.regex"].startswith("invalid RE2 regular expression: missing ]")


def test_backreference_is_rejected_not_silently_run_by_python_re() -> None:
    errors = errors_of({"regex": r"(a)\1"})
    assert "invalid escape sequence" in errors["conditions.regex"]


def test_catastrophic_python_pattern_runs_in_linear_time() -> None:
    conditions = ok({"regex": "(a+)+$"})
    text = "a" * 200_000 + "!"
    started = time.perf_counter()
    assert conditions.compiled_regex.search(text) is None
    assert time.perf_counter() - started < 1.0


def test_limits_accepted_at_the_edge() -> None:
    ok({"keywords": ["x" * 200] * 1 + [f"k{i}" for i in range(99)], "regex": "a" * 1000})
