"""One reading of phone numbers: every script's decimal digits are ASCII digits."""

from __future__ import annotations

import pytest

from kirem.phones import ascii_digits, digits, is_ascii_number, with_ascii_recipient
from kirem.routing.conditions import parse_conditions
from kirem.routing.matcher import EventFacts, rule_matches

ARABIC_INDIC = "\u0666\u0662\u0668\u0661\u0662"  # 62812
EXTENDED_ARABIC = "\u06f6\u06f2\u06f8\u06f1\u06f2"  # Persian
DEVANAGARI = "\u096c\u0968\u096e\u0967\u0968"
FULL_WIDTH = "\uff16\uff12\uff18\uff11\uff12"


@pytest.mark.parametrize("typed", [ARABIC_INDIC, EXTENDED_ARABIC, DEVANAGARI, FULL_WIDTH, "62812"])
def test_every_script_reads_as_the_same_number(typed: str) -> None:
    assert ascii_digits(typed) == "62812"
    assert digits(f"+{typed[:2]} {typed[2:]}-") == "62812"


def test_only_decimal_digits_count() -> None:
    assert digits("62²812") == "62812"  # a superscript is a digit to isdigit(), not a decimal digit
    assert ascii_digits("+62 (812)") == "+62 (812)"
    assert is_ascii_number("0123") and not is_ascii_number(ARABIC_INDIC) and not is_ascii_number("")
    assert not is_ascii_number("²") and not is_ascii_number("-1")


def test_a_send_body_gets_ascii_digits_and_nothing_else_changes() -> None:
    body = {"to": f"+{FULL_WIDTH}", "type": "text"}
    assert with_ascii_recipient(body) == {"to": "+62812", "type": "text"}
    assert with_ascii_recipient({"to": 62812}) == {"to": 62812}
    plain = {"to": "62812"}
    assert with_ascii_recipient(plain) is plain


def test_rule_senders_are_read_in_ascii_and_match_any_notation() -> None:
    conditions, errors = parse_conditions({"senders": [f"{ARABIC_INDIC[:3]}*", FULL_WIDTH]})
    assert errors == {} and conditions.senders == ("628*", "62812")
    facts = EventFacts(
        type="messages.received", message_type="text", sender=DEVANAGARI, texts=(), channel_id=None
    )
    assert rule_matches(conditions, facts)[0]
