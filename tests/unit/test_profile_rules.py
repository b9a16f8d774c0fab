"""Business profile update checks: seed and Meta examples pass, mistakes fail on the right key."""

from __future__ import annotations

from typing import Any

import pytest

from kirem.messaging.profile_rules import VERTICALS, validate_profile_update
from tests.fixtures import meta_examples, seed_examples

SEED_VERTICALS = (
    "AUTO", "BEAUTY", "APPAREL", "EDU", "ENTERTAIN", "FINANCE", "GROCERY", "GOVT", "HOTEL", "HEALTH",
    "NONPROFIT", "PROF_SERVICES", "RETAIL", "TRAVEL", "RESTAURANT", "OTHER",
)  # fmt: skip

META_UPDATES = meta_examples()["business_profile_update"]
SEED_UPDATES = seed_examples()["business_profile_update"]


def test_verticals_are_metas_enum_and_include_the_seed_list() -> None:
    assert set(VERTICALS) == set(meta_examples()["business_verticals"])
    assert set(SEED_VERTICALS) <= set(VERTICALS)
    assert "EVENT_PLAN" in VERTICALS
    assert len(set(VERTICALS)) == len(VERTICALS)


def test_seed_has_a_profile_update_example() -> None:
    assert SEED_UPDATES


@pytest.mark.parametrize("body", SEED_UPDATES)
def test_seed_profile_update_passes(body: dict[str, Any]) -> None:
    assert validate_profile_update(body) == {}


@pytest.mark.parametrize("name", sorted(META_UPDATES))
def test_meta_profile_update_examples_pass(name: str) -> None:
    assert validate_profile_update(META_UPDATES[name]) == {}


@pytest.mark.parametrize(
    "body",
    [
        {"about": "a"},
        {"about": "a" * 139},
        {"address": "a" * 256},
        {"description": "d" * 256},
        {"email": "e" * 116 + "@example.com"},
        {"websites": ["https://kirem.id", "http://kirem.id/" + "p" * 240]},
        {"vertical": "EVENT_PLAN"},
        {"address": "", "description": "", "email": "", "websites": []},
        {"messaging_product": "whatsapp", "profile_picture_handle": "4:VGVzdC5wbmc=:aW1h"},
    ],
)
def test_valid_updates_pass(body: dict[str, Any]) -> None:
    assert validate_profile_update(body) == {}


@pytest.mark.parametrize("vertical", SEED_VERTICALS)
def test_every_seed_vertical_passes(vertical: str) -> None:
    assert validate_profile_update({"vertical": vertical}) == {}


@pytest.mark.parametrize(
    ("body", "keys"),
    [
        ("about", {"body"}),
        ([{"about": "x"}], {"body"}),
        ({"about": "x", "messaging_product": "sms"}, {"messaging_product"}),
        ({"about": ""}, {"about"}),
        ({"about": "   "}, {"about"}),
        ({"about": "a" * 140}, {"about"}),
        ({"about": 42}, {"about"}),
        ({"address": "a" * 257}, {"address"}),
        ({"description": "d" * 257}, {"description"}),
        ({"email": "not-an-email"}, {"email"}),
        ({"email": "e" * 117 + "@example.com"}, {"email"}),
        ({"vertical": "FOOD"}, {"vertical"}),
        ({"vertical": "retail"}, {"vertical"}),
        ({"websites": "https://kirem.id"}, {"websites"}),
        ({"websites": ["https://a.id", "https://b.id", "https://c.id"]}, {"websites"}),
        ({"websites": ["https://kirem.id", "kirem.id"]}, {"websites[1]"}),
        ({"websites": ["ftp://kirem.id"]}, {"websites[0]"}),
        ({"websites": ["https://kirem.id/" + "p" * 240]}, {"websites[0]"}),
        ({"profile_picture_handle": ""}, {"profile_picture_handle"}),
    ],
)
def test_mistakes_are_rejected_on_the_right_key(body: object, keys: set[str]) -> None:
    errors = validate_profile_update(body)
    assert set(errors) == keys
    assert all(isinstance(message, str) and message for message in errors.values())


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messaging_product": "whatsapp"},
        {"about": "x", "name": "Kirem"},
        {"profile_picture_url": "https://x.co/a.png", "future_field": {"nested": [None]}},
        {"about": "x", "address": None, "websites": None, "vertical": None, "email": None},
        {"messaging_product": None, "about": "x"},
    ],
)
def test_what_meta_leaves_alone_passes(body: dict[str, object]) -> None:
    """Nulls are absent fields, and fields Kirem does not know (or an empty update) are Meta's to judge."""
    assert validate_profile_update(body) == {}


def test_about_limit_message_names_the_limit() -> None:
    assert validate_profile_update({"about": "a" * 140}) == {
        "about": "about must be at most 139 characters, got 140"
    }
