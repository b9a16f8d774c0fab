"""``senders`` rules match customers by business-scoped user id as well as by phone number."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kirem.inbound.normalize import normalize
from kirem.routing.conditions import Conditions, parse_conditions
from kirem.routing.decide import event_facts, stored_facts
from kirem.routing.matcher import EventFacts, facts_from, rule_matches

BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"


def cond(*senders: str) -> Conditions:
    conditions, errors = parse_conditions({"senders": list(senders)})
    assert conditions is not None, errors
    return conditions


def received(*, phone: str | None, user_id: str | None) -> EventFacts:
    message: dict[str, Any] = {"id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "hi"}}
    contact: dict[str, Any] = {"profile": {"name": "S"}}
    if phone:
        message["from"] = contact["wa_id"] = phone
    if user_id:
        message["from_user_id"] = contact["user_id"] = user_id
        contact["parent_user_id"] = PARENT
    value = {"metadata": {"phone_number_id": "1"}, "contacts": [contact], "messages": [message]}
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "2", "changes": [{"field": "messages", "value": value}]}],
    }
    [event] = normalize(orjson.dumps(envelope), envelope)
    return facts_from(event, "chn_1")


@pytest.mark.parametrize("pattern", [BSUID, "US.*", "US.1349*", PARENT, "US.ENT.*"])
def test_a_username_only_customer_matches_bsuid_patterns(pattern: str) -> None:
    matched, reason = rule_matches(cond(pattern), received(phone=None, user_id=BSUID))
    assert matched, reason


@pytest.mark.parametrize("pattern", ["GB.*", "US.9*", "US.13491208655302741919", "1*", "134912086553"])
def test_other_patterns_do_not_match_a_username_only_customer(pattern: str) -> None:
    matched, reason = rule_matches(cond(pattern), received(phone=None, user_id=BSUID))
    assert not matched and reason.startswith("senders: 'US.13491208655302741918'")


def test_a_customer_with_both_matches_by_number_or_by_bsuid() -> None:
    facts = received(phone="16505551234", user_id=BSUID)
    assert rule_matches(cond("1650*"), facts)[0]
    assert rule_matches(cond("US.*"), facts)[0]
    assert not rule_matches(cond("62*", "BR.*"), facts)[0]


def test_number_patterns_still_need_a_number() -> None:
    assert rule_matches(cond("1650*"), received(phone="16505551234", user_id=None))[0]
    assert not rule_matches(cond("US.*"), received(phone="16505551234", user_id=None))[0]


def test_stored_facts_keep_the_bsuids_for_replays() -> None:
    facts = received(phone=None, user_id=BSUID)
    assert facts.sender_user_ids == (BSUID, PARENT)
    assert stored_facts(facts)["sender_user_ids"] == [BSUID, PARENT]

    class Stored:
        type = "messages.received"
        channel_id = "chn_1"

    stored = Stored()
    stored.facts = orjson.loads(orjson.dumps(stored_facts(facts)))  # type: ignore[attr-defined]
    assert event_facts(stored).sender_user_ids == (BSUID, PARENT)  # type: ignore[arg-type]


@pytest.mark.parametrize("item", ["us.123", "U.123", "USA.1", "US.", "US.12-3", "US.*1", "US.1" + "2" * 128])
def test_malformed_bsuid_senders_are_refused(item: str) -> None:
    conditions, errors = parse_conditions({"senders": [item]})
    assert conditions is None
    assert "neither a phone number nor a business-scoped user id" in errors["conditions.senders[0]"]
