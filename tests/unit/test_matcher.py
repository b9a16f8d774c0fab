"""Rule matching and the fan-out decision (kirem.routing.matcher)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from kirem.inbound.normalize import normalize
from kirem.routing.conditions import Conditions, parse_conditions
from kirem.routing.matcher import (
    Decision,
    EventFacts,
    RuleSpec,
    TargetSpec,
    facts_from,
    route,
    rule_matches,
)


def cond(**raw: Any) -> Conditions:
    conditions, errors = parse_conditions(raw)
    assert conditions is not None, errors
    return conditions


def facts(
    type: str = "messages.received",
    message_type: str | None = "text",
    sender: str | None = "6281234567",
    texts: tuple[str, ...] = ("Halo, ada PROMO?",),
    channel_id: str | None = "chn_1",
    voice: bool = False,
) -> EventFacts:
    return EventFacts(type, message_type, sender, texts, channel_id, voice)


def status_facts() -> EventFacts:
    return facts(type="messages.status", message_type=None, texts=())


def rule(
    id: str, targets: tuple[str, ...], enabled: bool = True, name: str | None = None, **raw: Any
) -> RuleSpec:
    return RuleSpec(id=id, name=name or id, enabled=enabled, conditions=cond(**raw), target_ids=targets)


def target(id: str, enabled: bool = True, events: tuple[str, ...] = ()) -> TargetSpec:
    return TargetSpec(id=id, enabled=enabled, events=events)


def ids(decisions: list[Decision]) -> list[str]:
    return [d.target_id for d in decisions]


def by_target(decisions: list[Decision]) -> dict[str, Decision]:
    return {d.target_id: d for d in decisions}


# --- rule_matches -------------------------------------------------------------------------------------


def test_empty_conditions_match_everything() -> None:
    for f in (
        facts(),
        status_facts(),
        facts(type="account.update", message_type=None, sender=None, texts=()),
    ):
        matched, reason = rule_matches(Conditions(), f)
        assert matched
        assert reason


def test_or_within_and_across() -> None:
    c = cond(message_types=["image", "text"], keywords=["diskon", "promo"])
    assert rule_matches(c, facts())[0]
    assert rule_matches(c, facts(message_type="image", texts=("Diskon!",)))[0]
    matched, reason = rule_matches(c, facts(message_type="video"))
    assert not matched
    assert reason == "message_types: 'video' not in ['image', 'text']"
    matched, reason = rule_matches(c, facts(texts=("hello",)))
    assert not matched
    assert reason == "keywords: none of ['diskon', 'promo'] found"


def test_event_types() -> None:
    c = cond(event_types=["messages.status"])
    assert rule_matches(c, status_facts())[0]
    matched, reason = rule_matches(c, facts())
    assert (matched, reason) == (False, "event_types: 'messages.received' not in ['messages.status']")


def test_missing_fields_do_not_match() -> None:
    assert rule_matches(cond(message_types=["text"]), status_facts()) == (
        False,
        "message_types: the event is not a message",
    )
    assert rule_matches(cond(keywords=["x"]), status_facts()) == (False, "keywords: the event has no text")
    assert rule_matches(cond(regex="."), status_facts()) == (False, "regex: the event has no text")
    assert rule_matches(cond(senders=["62*"]), facts(sender=None)) == (
        False,
        "senders: the event has no sender",
    )
    assert rule_matches(cond(channel_ids=["chn_1"]), facts(channel_id=None)) == (
        False,
        "channel_ids: the event has no channel",
    )


def test_senders_exact_and_prefix() -> None:
    prefix = cond(senders=["+62 8*"])
    assert rule_matches(prefix, facts(sender="6281234567"))[0]
    assert rule_matches(prefix, facts(sender="+6281234567"))[0]
    assert not rule_matches(prefix, facts(sender="6591234567"))[0]
    exact = cond(senders=["+62 812-34567"])
    assert rule_matches(exact, facts(sender="6281234567"))[0]
    matched, reason = rule_matches(exact, facts(sender="62812345678"))
    assert not matched
    assert reason == "senders: '62812345678' matches none of ['6281234567']"


def test_keywords_are_case_insensitive_contains() -> None:
    c = cond(keywords=["Promo"])
    assert rule_matches(c, facts(texts=("ADA PROMO HARI INI",)))[0]
    assert rule_matches(c, facts(texts=("promosi",)))[0]
    assert rule_matches(cond(keywords=["STRASSE"]), facts(texts=("Hauptstraße",)))[0]


def test_regex_against_caption_and_interactive_title_and_id() -> None:
    assert rule_matches(cond(regex="^Taj"), facts(message_type="image", texts=("Taj Mahal",)))[0]
    reply = facts(message_type="interactive", texts=("Ya, bersedia", "btn_yes"))
    assert rule_matches(cond(regex="^btn_(yes|ok)$"), reply)[0]
    assert rule_matches(cond(regex="bersedia$"), reply)[0]
    assert not rule_matches(cond(regex="^bersedia"), reply)[0]
    matched, reason = rule_matches(cond(regex="^no$"), reply)
    assert (matched, reason) == (False, "regex: '^no$' does not match")
    assert not rule_matches(cond(regex="YES"), reply)[0]
    assert rule_matches(cond(regex="(?i)YES"), reply)[0]


def test_regex_is_linear_time() -> None:
    c = cond(regex="(a+)+$")
    f = facts(texts=("a" * 100_000 + "!",) * 5)
    started = time.perf_counter()
    assert not rule_matches(c, f)[0]
    assert time.perf_counter() - started < 1.0


def test_regex_with_lone_surrogate_text() -> None:
    assert rule_matches(cond(regex="ok"), facts(texts=("ok \ud800",)))[0]


def test_channel_filter() -> None:
    c = cond(channel_ids=["chn_1", "chn_2"])
    assert rule_matches(c, facts(channel_id="chn_2"))[0]
    matched, reason = rule_matches(c, facts(channel_id="chn_3"))
    assert (matched, reason) == (False, "channel_ids: 'chn_3' not in ['chn_1', 'chn_2']")


def test_voice_means_audio_with_voice_flag() -> None:
    voice = cond(message_types=["voice"])
    audio = cond(message_types=["audio"])
    note = facts(message_type="audio", texts=(), voice=True)
    song = facts(message_type="audio", texts=())
    assert rule_matches(voice, note)[0]
    assert not rule_matches(voice, song)[0]
    assert rule_matches(audio, note)[0]
    assert rule_matches(audio, song)[0]


def test_long_lists_are_shortened_in_reasons() -> None:
    c = cond(keywords=[f"k{i}" for i in range(8)])
    _, reason = rule_matches(c, facts(texts=("x",)))
    assert reason == "keywords: none of ['k0', 'k1', 'k2', 'k3', 'k4', ... 3 more] found"


# --- route ----------------------------------------------------------------------------------------------


def test_target_named_by_no_rule_gets_everything_it_subscribes_to() -> None:
    targets = [target("all"), target("statuses", events=("messages.status",))]
    selected, not_selected = route(facts(), [], targets)
    assert ids(selected) == ["all"]
    assert selected[0].reason == "no enabled rule names this target: it receives every event it subscribes to"
    assert selected[0].rule_ids == ()
    assert selected[0].target_enabled
    assert ids(not_selected) == ["statuses"]
    assert not_selected[0].reason == "not subscribed to messages.received"
    selected, not_selected = route(status_facts(), [], targets)
    assert ids(selected) == ["all", "statuses"]
    assert not_selected == []


def test_matching_rule_selects_its_targets_only() -> None:
    rules = [
        rule("rul_img", ("crm",), name="Images to CRM", message_types=["image"]),
        rule("rul_promo", ("sales",), name="Promo", keywords=["promo"]),
    ]
    targets = [target("crm"), target("sales"), target("log")]
    selected, not_selected = route(facts(message_type="image", texts=("promo price",)), rules, targets)
    assert ids(selected) == ["crm", "sales", "log"]
    assert by_target(selected)["crm"].reason == "rule 'Images to CRM' (rul_img) matched"
    assert by_target(selected)["crm"].rule_ids == ("rul_img",)
    assert not_selected == []

    selected, not_selected = route(facts(texts=("hello",)), rules, targets)
    assert ids(selected) == ["log"]
    reasons = by_target(not_selected)
    assert reasons["crm"].reason == (
        "rules naming it did not match: rule 'Images to CRM' (rul_img): "
        "message_types: 'text' not in ['image']"
    )
    assert reasons["sales"].reason == (
        "rules naming it did not match: rule 'Promo' (rul_promo): keywords: none of ['promo'] found"
    )
    assert reasons["sales"].rule_ids == ("rul_promo",)


def test_any_of_several_rules_naming_a_target() -> None:
    rules = [
        rule("r1", ("t",), name="text", message_types=["text"]),
        rule("r2", ("t",), name="from 65", senders=["65*"]),
        rule("r3", ("t",), name="promo", keywords=["promo"]),
    ]
    selected, _ = route(facts(), rules, [target("t")])
    assert selected[0].rule_ids == ("r1", "r3")
    assert selected[0].reason == "rule 'text' (r1) and rule 'promo' (r3) all matched"
    _, not_selected = route(facts(message_type="image", texts=("x",)), rules, [target("t")])
    assert not_selected[0].reason.count("rule '") == 3
    assert not_selected[0].rule_ids == ("r1", "r2", "r3")


def test_subscription_is_checked_before_rules() -> None:
    rules = [rule("r1", ("t",))]
    selected, not_selected = route(facts(), rules, [target("t", events=("messages.status",))])
    assert selected == []
    assert not_selected[0].reason == "not subscribed to messages.received"


def test_disabled_rules_are_ignored() -> None:
    rules = [
        rule("off", ("t",), enabled=False, name="Off", keywords=["never"]),
        rule("on", ("t",), name="On", message_types=["image"]),
    ]
    selected, not_selected = route(facts(), rules, [target("t")])
    assert selected == []
    assert "rule 'Off'" not in not_selected[0].reason
    assert not_selected[0].rule_ids == ("on",)
    everything = rule("off2", ("t",), enabled=False)  # would match, but is disabled
    selected, _ = route(facts(), [*rules, everything], [target("t")])
    assert selected == []


def test_target_named_only_by_disabled_rules_gets_everything() -> None:
    rules = [rule("off", ("t",), enabled=False, name="Off", keywords=["never"])]
    selected, not_selected = route(facts(), rules, [target("t")])
    assert ids(selected) == ["t"]
    assert not_selected == []
    assert selected[0].reason.startswith(
        "no enabled rule names this target: it receives every event it subscribes to"
    )
    assert "rule 'Off' (off)" in selected[0].reason


def test_disabled_target_is_selected_but_flagged() -> None:
    selected, _ = route(facts(), [], [target("t", enabled=False)])
    assert ids(selected) == ["t"]
    assert not selected[0].target_enabled
    assert "disabled" in selected[0].reason
    assert "skipped" in selected[0].reason
    selected, not_selected = route(
        facts(), [rule("r", ("t",), keywords=["zzz"])], [target("t", enabled=False)]
    )
    assert selected == []
    assert not not_selected[0].target_enabled


def test_every_decision_has_a_reason() -> None:
    rules = [rule("r1", ("a",), keywords=["promo"]), rule("r2", ("b",), keywords=["nope"])]
    targets = [target("a"), target("b"), target("c"), target("d", events=("templates.status",))]
    selected, not_selected = route(facts(), rules, targets)
    assert sorted(ids(selected) + ids(not_selected)) == ["a", "b", "c", "d"]
    assert all(d.reason for d in selected + not_selected)


# --- from a normalised event --------------------------------------------------------------------------


def envelope(message: dict[str, Any]) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "pn1"},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": message["from"]}],
        "messages": [message],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "w", "changes": [{"field": "messages", "value": value}]}],
    }


def test_facts_from_normalised_event() -> None:
    body = envelope(
        {
            "from": "62812345678",
            "id": "wamid.1",
            "timestamp": "1",
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "btn_yes", "title": "Ya, bersedia"},
            },
        }
    )
    (event,) = normalize(orjson.dumps(body), body)
    f = facts_from(event, "chn_9")
    assert f == EventFacts(
        "messages.received", "interactive", "62812345678", ("Ya, bersedia", "btn_yes"), "chn_9"
    )
    rules = [rule("r", ("bot",), message_types=["interactive"], regex="^btn_yes$", senders=["628*"])]
    selected, _ = route(f, rules, [target("bot")])
    assert ids(selected) == ["bot"]


def test_facts_from_voice_note() -> None:
    message = {
        "from": "6281",
        "id": "wamid.2",
        "timestamp": "1",
        "type": "audio",
        "audio": {"id": "1", "mime_type": "audio/ogg; codecs=opus", "voice": True},
    }
    (event,) = normalize(b"", envelope(message))
    assert facts_from(event, None).voice
    message["audio"]["voice"] = False
    (event,) = normalize(b"", envelope(message))
    assert not facts_from(event, None).voice
