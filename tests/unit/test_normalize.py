"""Meta webhook envelopes → Kirem events (kirem.inbound.normalize)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from kirem.inbound.normalize import NormalizedEvent, normalize
from kirem.sandbox.messages import REENGAGEMENT_ERROR, UNDELIVERABLE_ERROR, DeliveryPlan, status_payload
from kirem.sandbox.models import SandboxTemplate
from kirem.sandbox.templates import status_update_payload
from tests.fixtures import meta_examples as fixture_examples

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PHONE_ID = "106540352242922"
WABA = "419561257915477"


def meta_examples() -> dict[str, dict[str, Any]]:
    return fixture_examples()["webhook"]


def run(envelope: dict[str, Any]) -> list[NormalizedEvent]:
    return normalize(orjson.dumps(envelope), envelope)


def only(envelope: dict[str, Any]) -> NormalizedEvent:
    events = run(envelope)
    assert len(events) == 1, events
    return events[0]


def message_envelope(*messages: dict[str, Any], contacts: list[dict[str, Any]] | None = None) -> dict:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
    }
    value["contacts"] = (
        contacts if contacts is not None else [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}]
    )
    value["messages"] = list(messages)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"value": value, "field": "messages"}]}],
    }


def text_message(wamid: str, body: str, sender: str = "16505551234") -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": body}}


def plan(*, undeliverable: bool = False, in_window: bool = True) -> DeliveryPlan:
    """A free-form (service) message; outside the customer's window it fails with 131047."""
    return DeliveryPlan(
        waba_id=WABA,
        metadata={"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        wamid="wamid.HBgLNjI4MTIzNDU2NzgVAgARGBQzRUIwQjJBN0Y5RjA4QjM5RTEA",
        wa_id="6281234567",
        category="service",
        conversation_id="conv_1234",
        user_id=None,
        undeliverable=undeliverable,
        in_window=in_window,
    )


# --- the 16 examples of Meta's OpenAPI document ---------------------------------------------------


def test_the_document_has_sixteen_examples() -> None:
    assert len(meta_examples()) == 16


EXPECTED_TYPES = {
    "Text Message": "text",
    "Text Message with Context (Product Inquiry)": "text",
    "Text Message from Click to WhatsApp Ad": "text",
    "Reaction Message": "reaction",
    "Image Message": "image",
    "Location Message": "location",
    "Contact Sharing Message": "contacts",
    "Unsupported Message": "unsupported",
    "Button Message": "button",
    "Interactive List Reply Message": "interactive",
    "Interactive Button Reply Message": "interactive",
    "Order Message": "order",
    "System Message": "system",
}
GROUP_EXAMPLES = ("Group Create Message", "Group Settings Update", "Group Remove Participants")


def test_every_example_is_known() -> None:
    assert set(meta_examples()) == set(EXPECTED_TYPES) | set(GROUP_EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXPECTED_TYPES))
def test_message_examples_become_messages_received(name: str) -> None:
    envelope = meta_examples()[name]
    raw = orjson.dumps(envelope)
    event = only(envelope)
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    kind = EXPECTED_TYPES[name]
    assert event.type == "messages.received"
    assert event.message_type == kind
    assert event.phone_number_id == PHONE_ID
    assert event.waba_id == envelope["entry"][0]["id"]
    assert event.sender == "16505551234"
    assert event.dedup_key == f"msg:{message['id']}"
    assert event.meta_body == raw
    data = event.data
    assert data["from"] == "16505551234"
    assert data["message_id"] == message["id"]
    assert data["timestamp"] == message["timestamp"]
    assert data["type"] == kind
    if kind != "unsupported":
        assert data[kind] == message[kind]
    assert data["phone_number_id"] == PHONE_ID
    assert data["display_phone_number"] == "15550783881"
    assert data["conversation_id"] is None
    assert data["context"] == message.get("context")
    if kind == "system":  # Meta sends no contacts with a system message
        assert data["contact"] is None
    else:
        assert data["contact"] == {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}


def test_example_texts() -> None:
    texts = {name: only(meta_examples()[name]).texts for name in EXPECTED_TYPES}
    assert texts["Text Message"] == ("Does it come in another color?",)
    assert texts["Image Message"] == ("Taj Mahal",)
    assert texts["Button Message"] == ("Unsubscribe", "Unsubscribe")
    assert texts["Interactive List Reply Message"] == ("Priority Mail Express", "priority_express")
    assert texts["Interactive Button Reply Message"] == ("Cancel", "cancel-button")
    for name in ("Reaction Message", "Location Message", "Order Message", "Unsupported Message"):
        assert texts[name] == ()


def test_example_referral_and_errors_are_kept() -> None:
    ad = only(meta_examples()["Text Message from Click to WhatsApp Ad"]).data
    assert ad["referral"]["source_type"] == "ad"
    assert ad["referral"]["ctwa_clid"].startswith("Aff-")
    unsupported = only(meta_examples()["Unsupported Message"]).data
    assert unsupported["errors"][0]["code"] == 131051
    assert "unsupported" not in unsupported
    product = only(meta_examples()["Text Message with Context (Product Inquiry)"]).data
    assert product["context"]["referred_product"]["product_retailer_id"] == "di9ozbzfi4"


@pytest.mark.parametrize("name", GROUP_EXAMPLES)
def test_group_examples_are_account_updates(name: str) -> None:
    envelope = meta_examples()[name]
    event = only(envelope)
    change = envelope["entry"][0]["changes"][0]
    assert event.type == "account.update"
    assert event.data == {"field": change["field"], "value": change["value"]}
    assert event.phone_number_id == PHONE_ID
    assert event.message_type is None
    assert event.sender is None
    assert event.dedup_key.startswith("chg:")
    assert len(event.dedup_key) == 4 + 64


def test_seed_interactive_example() -> None:
    envelope = message_envelope(
        {
            "context": {"from": "15550783881", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJF"},
            "from": "62812345678",
            "id": "wamid.HBgLN...",
            "timestamp": "1750025136",
            "type": "interactive",
            "interactive": {
                "type": "button_reply",
                "button_reply": {"id": "btn_yes", "title": "Ya, bersedia"},
            },
        },
        contacts=[{"profile": {"name": "Budi"}, "wa_id": "62812345678"}],
    )
    event = only(envelope)
    seed = {
        "from": "62812345678",
        "message_id": "wamid.HBgLN...",
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "btn_yes", "title": "Ya, bersedia"}},
    }
    assert event.type == "messages.received"
    assert {key: event.data[key] for key in seed} == seed
    assert event.data["contact"] == {"profile": {"name": "Budi"}, "wa_id": "62812345678"}
    assert event.texts == ("Ya, bersedia", "btn_yes")


def test_more_message_types() -> None:
    messages = [
        {
            "type": "audio",
            "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": "x", "id": "1", "voice": True},
        },
        {
            "type": "video",
            "video": {"caption": "My vacation", "mime_type": "video/mp4", "sha256": "x", "id": "2"},
        },
        {"type": "document", "document": {"caption": "Invoice", "filename": "a.pdf", "id": "3"}},
        {"type": "sticker", "sticker": {"mime_type": "image/webp", "animated": False, "id": "4"}},
        {"type": "request_welcome"},
    ]
    for index, extra in enumerate(messages):
        message = {"from": "6281234567", "id": f"wamid.{index}", "timestamp": "1"} | extra
        event = only(message_envelope(message))
        assert event.message_type == extra["type"]
        if extra["type"] in extra:
            assert event.data[extra["type"]] == extra[extra["type"]]
    assert only(
        message_envelope({"from": "1", "id": "w", "type": "video", "video": {"caption": "c"}})
    ).texts == ("c",)


def test_contact_is_the_senders_entry() -> None:
    contacts = [
        {"profile": {"name": "Other"}, "wa_id": "111"},
        {"profile": {"name": "Sender"}, "wa_id": "222"},
    ]
    assert (
        only(message_envelope(text_message("w1", "hi", "222"), contacts=contacts)).data["contact"]
        == contacts[1]
    )
    assert (
        only(message_envelope(text_message("w1", "hi", "333"), contacts=contacts)).data["contact"]
        == contacts[0]
    )


# --- statuses and template statuses, as the sandbox posts them ---------------------------------------


def test_sandbox_statuses() -> None:
    sent = only(status_payload(plan(), "sent", NOW))
    assert sent.type == "messages.status"
    assert sent.phone_number_id == PHONE_ID
    assert sent.waba_id == WABA
    assert sent.sender == "6281234567"
    assert sent.message_type is None
    assert sent.texts == ()
    assert sent.data == {
        "message_id": plan().wamid,
        "status": "sent",
        "timestamp": str(int(NOW.timestamp())),
        "recipient_id": "6281234567",
        "recipient_user_id": None,
        "recipient_parent_user_id": None,
        "username": None,
        "phone_number_id": PHONE_ID,
        "display_phone_number": "15550783881",
        "conversation": {
            "id": "conv_1234",
            "expiration_timestamp": str(int(NOW.timestamp()) + 86400),
            "origin": {"type": "service"},
        },
        "pricing": {"billable": False, "pricing_model": "PMP", "category": "service"},
        "errors": None,
    }
    delivered = only(status_payload(plan(), "delivered", NOW))
    assert delivered.dedup_key == f"status:{plan().wamid}:delivered"
    assert sent.dedup_key == f"status:{plan().wamid}:sent"


@pytest.mark.parametrize(
    ("error", "undeliverable", "in_window"),
    [(UNDELIVERABLE_ERROR, True, True), (REENGAGEMENT_ERROR, False, False)],
)
def test_sandbox_failed_status_keeps_errors(
    error: dict[str, Any], undeliverable: bool, in_window: bool
) -> None:
    failed = only(status_payload(plan(undeliverable=undeliverable, in_window=in_window), "failed", NOW))
    assert failed.data["status"] == "failed"
    assert failed.data["errors"] == [error]
    assert failed.data["conversation"] is None
    assert failed.data["pricing"] is None
    assert failed.dedup_key == f"status:{plan().wamid}:failed"


def test_status_callback_data_and_group() -> None:
    envelope = status_payload(plan(), "read", NOW)
    status = envelope["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["biz_opaque_callback_data"] = "order-42"
    assert only(envelope).data["biz_opaque_callback_data"] == "order-42"


def test_sandbox_template_status() -> None:
    template = SandboxTemplate(
        id="1948194819481940", waba_id=WABA, name="reject_promo", language="id", category="MARKETING"
    )
    template.status = "REJECTED"
    template.rejected_reason = "INVALID_FORMAT"
    envelope = status_update_payload(template, NOW)
    event = only(envelope)
    assert event.type == "templates.status"
    assert event.phone_number_id is None
    assert event.waba_id == WABA
    assert event.data == envelope["entry"][0]["changes"][0]["value"]
    assert event.data["event"] == "REJECTED"
    assert event.dedup_key == f"tpl:1948194819481940:REJECTED:{int(NOW.timestamp())}"
    again = copy.deepcopy(envelope)
    del again["entry"][0]["time"]
    key = only(again).dedup_key
    assert key.startswith("tpl:1948194819481940:REJECTED:")
    assert key == only(copy.deepcopy(again)).dedup_key


# --- other fields ------------------------------------------------------------------------------------


def account_envelope(field: str, value: dict[str, Any], time: int | None = 1739321024) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": WABA}
    if time is not None:
        entry["time"] = time
    entry["changes"] = [{"value": value, "field": field}]
    return {"object": "whatsapp_business_account", "entry": [entry]}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("account_update", {"phone_number": "15550783881", "event": "VERIFIED_ACCOUNT"}),
        ("phone_number_quality_update", {"display_phone_number": "15550783881", "event": "FLAGGED"}),
        ("phone_number_name_update", {"display_phone_number": "15550783881", "decision": "APPROVED"}),
        ("business_capability_update", {"max_daily_conversation_per_phone": 1000}),
        ("template_category_update", {"message_template_id": 1, "new_category": "MARKETING"}),
        ("some_future_field", {"anything": [1, 2]}),
    ],
)
def test_everything_else_is_account_update(field: str, value: dict[str, Any]) -> None:
    event = only(account_envelope(field, value))
    assert event.type == "account.update"
    assert event.data == {"field": field, "value": value}
    assert event.phone_number_id is None


def test_account_update_dedup_uses_entry_time() -> None:
    value = {"display_phone_number": "15550783881", "event": "FLAGGED"}
    first = only(account_envelope("phone_number_quality_update", value, time=1))
    redelivered = only(copy.deepcopy(account_envelope("phone_number_quality_update", value, time=1)))
    weeks_later = only(account_envelope("phone_number_quality_update", value, time=2_000_000))
    assert first.dedup_key == redelivered.dedup_key
    assert first.dedup_key != weeks_later.dedup_key


def test_messages_change_with_only_errors_is_account_update() -> None:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "errors": [{"code": 131000, "title": "Something went wrong"}],
    }
    event = only(account_envelope("messages", value))
    assert event.type == "account.update"
    assert event.data == {"field": "messages", "value": value}
    assert event.phone_number_id == PHONE_ID


def test_coexistence_fields() -> None:
    metadata = {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID}
    echo_value = {
        "messaging_product": "whatsapp",
        "metadata": metadata,
        "message_echoes": [
            {
                "from": "15550783881",
                "to": "6281234567",
                "id": "wamid.echo1",
                "timestamp": "1700000000",
                "type": "text",
                "text": {"body": "Sent from the phone"},
            },
            {
                "from": "15550783881",
                "to": "6281234568",
                "id": "wamid.echo2",
                "type": "image",
                "image": {"id": "9"},
            },
        ],
    }
    echoes = run(account_envelope("smb_message_echoes", echo_value))
    assert [e.type for e in echoes] == ["messages.echo", "messages.echo"]
    assert echoes[0].data["to"] == "6281234567"
    assert echoes[0].data["text"] == {"body": "Sent from the phone"}
    assert echoes[0].sender == "6281234567"
    assert echoes[0].texts == ("Sent from the phone",)
    assert echoes[0].dedup_key == "echo:wamid.echo1"
    body = orjson.loads(echoes[1].meta_body)
    assert body["entry"][0]["changes"][0]["value"]["message_echoes"] == [echo_value["message_echoes"][1]]

    history_value = {"messaging_product": "whatsapp", "metadata": metadata, "history": [{"threads": []}]}
    history = only(account_envelope("history", history_value))
    assert (history.type, history.data, history.phone_number_id) == ("history.sync", history_value, PHONE_ID)
    sync_value = {"messaging_product": "whatsapp", "metadata": metadata, "state_sync": [{"type": "contact"}]}
    sync = only(account_envelope("smb_app_state_sync", sync_value))
    assert (sync.type, sync.data) == ("contacts.sync", sync_value)
    assert sync.dedup_key.startswith("chg:")


# --- many events in one envelope ----------------------------------------------------------------------


def big_envelope() -> dict[str, Any]:
    entries = []
    for e in range(2):
        changes = []
        for c in range(2):
            senders = [f"62811{e}{c}{m}" for m in range(2)]
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": f"1555000{e}{c}", "phone_number_id": f"pn{e}{c}"},
                "contacts": [{"profile": {"name": f"C{s}"}, "wa_id": s} for s in senders],
                "messages": [
                    text_message(f"wamid.{e}{c}{m}", f"hello {e}{c}{m}", senders[m]) for m in range(2)
                ],
            }
            changes.append({"value": value, "field": "messages"})
        entries.append({"id": f"waba{e}", "time": 1700000000 + e, "changes": changes})
    return {"object": "whatsapp_business_account", "entry": entries}


def test_two_entries_two_changes_two_messages_give_eight_events() -> None:
    envelope = big_envelope()
    events = run(envelope)
    assert len(events) == 8
    assert len({e.dedup_key for e in events}) == 8
    for event in events:
        e, c, m = event.data["message_id"][-3], event.data["message_id"][-2], event.data["message_id"][-1]
        assert event.waba_id == f"waba{e}"
        assert event.phone_number_id == f"pn{e}{c}"
        body = orjson.loads(event.meta_body)
        assert body["object"] == "whatsapp_business_account"
        assert len(body["entry"]) == 1
        entry = body["entry"][0]
        assert entry["id"] == f"waba{e}"
        assert entry["time"] == 1700000000 + int(e)
        assert len(entry["changes"]) == 1
        change = entry["changes"][0]
        assert change["field"] == "messages"
        value = change["value"]
        assert value["messages"] == [text_message(f"wamid.{e}{c}{m}", f"hello {e}{c}{m}", f"62811{e}{c}{m}")]
        assert value["contacts"] == [{"profile": {"name": f"C62811{e}{c}{m}"}, "wa_id": f"62811{e}{c}{m}"}]
        assert value["metadata"]["phone_number_id"] == f"pn{e}{c}"
        assert value["messaging_product"] == "whatsapp"
        assert event.data["contact"]["wa_id"] == f"62811{e}{c}{m}"


def test_mixed_messages_and_statuses_are_narrowed() -> None:
    envelope = message_envelope(text_message("wamid.in", "hi"))
    value = envelope["entry"][0]["changes"][0]["value"]
    value["statuses"] = [
        {"id": "wamid.out", "status": "read", "timestamp": "2", "recipient_id": "16505551234"}
    ]
    message, status = run(envelope)
    assert message.type == "messages.received"
    assert status.type == "messages.status"
    message_value = orjson.loads(message.meta_body)["entry"][0]["changes"][0]["value"]
    status_value = orjson.loads(status.meta_body)["entry"][0]["changes"][0]["value"]
    assert "statuses" not in message_value
    assert message_value["messages"][0]["id"] == "wamid.in"
    assert "messages" not in status_value
    assert status_value["contacts"] == [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}]
    assert status_value["statuses"][0]["id"] == "wamid.out"


def test_a_narrowed_body_is_written_as_meta_writes_it() -> None:
    """One event of several gets its own body: ASCII with ``\\uXXXX`` escapes, as Meta's bodies are,
    so a consumer that re-creates Meta's escaping before checking the signature agrees with it."""
    envelope = message_envelope(text_message("wamid.a", "café 👋"), text_message("wamid.b", "hi"))
    first, _ = run(envelope)
    assert first.meta_body.isascii() and b"caf\\u00e9 \\ud83d\\udc4b" in first.meta_body
    assert orjson.loads(first.meta_body)["entry"][0]["changes"][0]["value"]["messages"][0]["text"] == {
        "body": "café 👋"
    }


def test_single_event_keeps_raw_bytes_exactly() -> None:
    envelope = meta_examples()["Text Message"]
    raw = b'\n  {"object" :"whatsapp_business_account",\t"entry":[ {"id":"419561257915477",  "changes": ['
    raw += orjson.dumps(envelope["entry"][0]["changes"][0], option=orjson.OPT_INDENT_2) + b"]}]  }\r\n"
    assert orjson.loads(raw) == envelope
    event = only(orjson.loads(raw))
    assert normalize(raw, orjson.loads(raw))[0].meta_body is raw
    assert event.type == "messages.received"


def test_skipped_siblings_do_not_leak_into_the_raw_body() -> None:
    envelope = message_envelope(text_message("wamid.ok", "hi"))
    envelope["entry"].append({"id": "other_waba", "changes": [{"field": "messages", "value": "garbage"}]})
    raw = orjson.dumps(envelope)
    (event,) = normalize(raw, envelope)
    assert event.meta_body != raw
    assert b"other_waba" not in event.meta_body


def test_redelivery_has_the_same_dedup_keys() -> None:
    for envelope in (big_envelope(), meta_examples()["Image Message"], status_payload(plan(), "read", NOW)):
        first = [e.dedup_key for e in run(envelope)]
        again = [e.dedup_key for e in run(copy.deepcopy(envelope))]
        assert first == again


# --- garbage ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "envelope",
    [
        {},
        {"object": "whatsapp_business_account"},
        {"entry": None},
        {"entry": "abc"},
        {"entry": [None, 1, "x", [], {}]},
        {"entry": [{"id": "1", "changes": "abc"}]},
        {"entry": [{"id": "1", "changes": [None, 1, {"field": 1, "value": {}}, {"field": "messages"}]}]},
        {
            "entry": [
                {
                    "id": "1",
                    "changes": [{"field": "messages", "value": {"messages": [1, None, {}, {"id": ""}]}}],
                }
            ]
        },
        {
            "entry": [
                {"id": "1", "changes": [{"field": "messages", "value": {"statuses": [{"id": "w"}, "x"]}}]}
            ]
        },
        {
            "entry": [
                {"id": "1", "changes": [{"field": "smb_message_echoes", "value": {"message_echoes": 5}}]}
            ]
        },
    ],
)
def test_garbage_gives_no_events(envelope: Any) -> None:
    assert normalize(b"{}", envelope) == []


def test_garbage_never_raises() -> None:
    assert normalize(b"[]", [1, 2]) == []  # type: ignore[arg-type]
    weird: dict[str, Any] = {
        "entry": [
            {
                "id": True,
                "time": [1],
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "metadata": "nope",
                            "contacts": "nope",
                            "messages": [
                                {"id": 5, "from": None, "type": ["x"], "text": 3},
                                {"id": "w2", "type": "from", "from": "1", "timestamp": {"a": 1}},
                                {"id": "w3", "type": "interactive", "interactive": {"button_reply": "x"}},
                                {
                                    "id": "w4",
                                    "from": "1",
                                    "type": "text",
                                    "text": {"body": "\ud800"},
                                    "n": 2**70,
                                },
                            ],
                        },
                    },
                    {"field": "message_template_status_update", "value": {"message_template_id": [1]}},
                ],
            }
        ]
    }
    events = normalize(b"{}", weird)
    assert [e.dedup_key for e in events[:4]] == ["msg:5", "msg:w2", "msg:w3", "msg:w4"]
    assert events[1].data["from"] == "1"  # a message type named like a data key does not overwrite it
    assert events[4].type == "templates.status"
    assert events[4].dedup_key.startswith("chg:")
    for event in events:
        json.loads(event.meta_body)  # valid JSON (orjson refuses the escaped lone surrogate)


def test_too_deep_a_change_is_skipped() -> None:
    deep: Any = []
    for _ in range(1000):
        deep = [deep]
    envelope = account_envelope("account_update", {"deep": deep})
    envelope["entry"][0]["changes"].append({"field": "account_update", "value": {"ok": True}})
    events = normalize(b"{}", envelope)
    assert [e.data["value"] for e in events] == [{"ok": True}]
