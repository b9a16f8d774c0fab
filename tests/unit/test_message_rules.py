"""Send-message validation: every Meta and seed example passes, obvious mistakes fail on the right key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kirem.messaging.message_rules import (
    INTERACTIVE_TYPES,
    is_read_receipt,
    message_type_of,
    meta_error_code,
    validate_message,
    validate_read_receipt,
)
from tests.fixtures import meta_examples, seed_examples
from tests.fixtures.lenient import with_nulls, with_unknown_fields

META_EXAMPLES = meta_examples()["send_message"]
SEED_SEND_BODIES = seed_examples()["send_message"]

TO = "6282360419136"


def test_meta_openapi_has_exactly_50_send_examples() -> None:
    assert len(META_EXAMPLES) == 50


@pytest.mark.parametrize("name", sorted(META_EXAMPLES))
def test_every_meta_example_passes(name: str) -> None:
    assert validate_message(META_EXAMPLES[name]) == {}


def test_meta_read_receipt_example_is_recognised() -> None:
    body = META_EXAMPLES["Send typing indicator and read receipt"]
    assert is_read_receipt(body)
    assert validate_read_receipt(body) == {}


def test_seed_has_send_examples_of_every_documented_type() -> None:
    types = {body.get("type") for body in SEED_SEND_BODIES}
    assert {"text", "template", "image", "video", "location", "contacts", "interactive"} <= types


@pytest.mark.parametrize("body", SEED_SEND_BODIES, ids=lambda body: str(body.get("type")))
def test_every_seed_send_example_passes(body: dict[str, Any]) -> None:
    assert validate_message(body) == {}


def test_seed_n8n_button_snippet_passes_once_to_is_filled_in() -> None:
    (snippet,) = seed_examples()["send_message_without_to"]
    assert set(validate_message(snippet)) == {"to"}
    assert validate_message({**snippet, "to": TO}) == {}


def test_seed_read_receipt_passes() -> None:
    receipts = seed_examples()["read_receipt"]
    assert receipts
    assert all(validate_read_receipt(body) == {} for body in receipts)


# --- builders -------------------------------------------------------------------------------------


def text(body: str = "Halo", **extra: Any) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": "text", "text": {"body": body}, **extra}


def media(kind: str, obj: object) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": kind, kind: obj}


def interactive(obj: dict[str, Any]) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": TO, "type": "interactive", "interactive": obj}


def buttons(count: int = 2, **reply: Any) -> dict[str, Any]:
    items = [{"type": "reply", "reply": {"id": f"b{i}", "title": f"Pilihan {i}"}} for i in range(count)]
    if items:
        items[0]["reply"].update(reply)
    return interactive({"type": "button", "body": {"text": "Pilih"}, "action": {"buttons": items}})


def rows(count: int, prefix: str = "r", **first: Any) -> list[dict[str, Any]]:
    items = [{"id": f"{prefix}{i}", "title": f"Baris {i}", "description": "Deskripsi"} for i in range(count)]
    if items:
        items[0].update(first)
    return items


def list_message(sections: list[Any], button: object = "Menu") -> dict[str, Any]:
    action = {"button": button, "sections": sections}
    return interactive({"type": "list", "body": {"text": "Pilih menu"}, "action": action})


def cta(**parameters: Any) -> dict[str, Any]:
    params = {"display_text": "Buka", "url": "https://kirem.co", **parameters}
    return interactive(
        {"type": "cta_url", "body": {"text": "Klik"}, "action": {"name": "cta_url", "parameters": params}}
    )


def with_interactive(**changes: Any) -> dict[str, Any]:
    body = buttons()
    body["interactive"].update(changes)
    return body


def without(body: dict[str, Any], *path: str | int) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


# --- valid bodies that must stay valid ------------------------------------------------------------

VALID = {
    "type omitted means text": without(text(), "type"),
    "type inferred from the only message object": without(media("image", {"id": "1"}), "type"),
    "sample recipient from Meta": text(to="{{Recipient-Phone-Number}}"),
    "recipient with plus": text(to="+62 812-345-678"),
    "text at 4096": text("x" * 4096),
    "caption at 1024": media("image", {"link": "https://x.co/a.png", "caption": "c" * 1024}),
    "document with filename": media("document", {"id": "123", "filename": "a.pdf"}),
    "audio by link": media("audio", {"link": "https://x.co/a.ogg"}),
    "sticker by id": media("sticker", {"id": "123"}),
    "location as numeric strings": media("location", {"latitude": "-6.17", "longitude": "106.8"}),
    "location at the edges": media("location", {"latitude": 90, "longitude": -180}),
    "reaction removal": media("reaction", {"message_id": "wamid.x", "emoji": ""}),
    "template without components": media("template", {"name": "hello_world", "language": {"code": "en_US"}}),
    "three buttons": buttons(3),
    "button title at 20": buttons(title="t" * 20),
    "button id at 256": buttons(id="i" * 256),
    "one untitled section": list_message([{"rows": rows(10)}]),
    "ten rows over two sections": list_message(
        [{"title": "A", "rows": rows(5, "a")}, {"title": "B", "rows": rows(5, "b")}]
    ),
    "row limits": list_message([{"title": "s" * 24, "rows": rows(1, id="i" * 200, title="t" * 24)}]),
    "row description at 72": list_message([{"rows": rows(1, description="d" * 72)}]),
    "list button at 20": list_message([{"rows": rows(1)}], button="b" * 20),
    "cta_url": cta(),
    "cta_url display text at 20": cta(display_text="d" * 20),
    "header and footer at 60": with_interactive(
        header={"type": "text", "text": "h" * 60}, footer={"text": "f" * 60}
    ),
    "image header": with_interactive(header={"type": "image", "image": {"link": "https://x.co/a.png"}}),
    "body at 1024": with_interactive(body={"text": "b" * 1024}),
    "reply context": text(context={"message_id": "wamid.abc"}),
    "location request": interactive(
        {"type": "location_request_message", "body": {"text": "Share"}, "action": {"name": "send_location"}}
    ),
    "product without body": interactive(
        {"type": "product", "action": {"catalog_id": "1", "product_retailer_id": "2"}}
    ),
}


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
def test_valid_bodies_pass(body: dict[str, Any]) -> None:
    assert validate_message(body) == {}


@pytest.mark.parametrize("kind", INTERACTIVE_TYPES)
def test_every_meta_interactive_type_is_known(kind: str) -> None:
    errors = validate_message(interactive({"type": kind, "body": {"text": "x"}, "action": {}}))
    assert "interactive.type" not in errors


# --- obvious mistakes ----------------------------------------------------------------------------

INVALID: dict[str, tuple[object, set[str]]] = {
    "list body": ([text()], {"body"}),
    "string body": ("hello", {"body"}),
    "other product": (text(messaging_product="sms"), {"messaging_product"}),
    "missing to": (without(text(), "to"), {"to"}),
    "empty to": (text(to="  "), {"to"}),
    "numeric to": (text(to=6281234), {"to"}),
    "unknown type": (media("fax", {"body": "x"}), {"type"}),
    "type without its object": (without(media("image", {"id": "1"}), "image"), {"image"}),
    "object of the wrong shape": (media("image", "https://x.co/a.png"), {"image"}),
    "nothing to send": ({"to": TO}, {"text"}),
    "text body missing": (media("text", {"preview_url": True}), {"text.body"}),
    "text body empty": (text(""), {"text.body"}),
    "text body too long": (text("x" * 4097), {"text.body"}),
    "media with neither id nor link": (media("image", {"caption": "x"}), {"image"}),
    "media with both id and link": (media("video", {"id": "1", "link": "https://x.co/v.mp4"}), {"video"}),
    "sticker with neither": (media("sticker", {}), {"sticker"}),
    "empty media id": (media("audio", {"id": ""}), {"audio.id"}),
    "caption too long": (media("document", {"id": "1", "caption": "c" * 1025}), {"document.caption"}),
    "latitude not a number": (
        media("location", {"latitude": "north", "longitude": 1}),
        {"location.latitude"},
    ),
    "latitude boolean": (media("location", {"latitude": True, "longitude": 1}), {"location.latitude"}),
    "latitude in Arabic-Indic digits": (
        media("location", {"latitude": "\u0666", "longitude": "1_0"}),
        {"location.latitude", "location.longitude"},
    ),
    "latitude out of range": (media("location", {"latitude": 91, "longitude": 1}), {"location.latitude"}),
    "longitude out of range": (media("location", {"latitude": 1, "longitude": -181}), {"location.longitude"}),
    "location without coordinates": (
        media("location", {"name": "x"}),
        {"location.latitude", "location.longitude"},
    ),
    "contacts empty": (media("contacts", []), {"contacts"}),
    "contacts not a list": (media("contacts", {"name": {"formatted_name": "A"}}), {"contacts"}),
    "contact without name": (media("contacts", [{"phones": []}]), {"contacts[0].name"}),
    "contact without formatted_name": (
        media("contacts", [{"name": {"formatted_name": "A"}}, {"name": {"first_name": "B"}}]),
        {"contacts[1].name.formatted_name"},
    ),
    "reaction without message_id": (media("reaction", {"emoji": "👍"}), {"reaction.message_id"}),
    "reaction without emoji": (media("reaction", {"message_id": "wamid.x"}), {"reaction.emoji"}),
    "template without name": (media("template", {"language": {"code": "id"}}), {"template.name"}),
    "template without language": (media("template", {"name": "a"}), {"template.language"}),
    "template language without code": (
        media("template", {"name": "a", "language": {}}),
        {"template.language.code"},
    ),
    "template components not a list": (
        media("template", {"name": "a", "language": {"code": "id"}, "components": {}}),
        {"template.components"},
    ),
    "bad context": (text(context="wamid.x"), {"context"}),
    "context without message_id": (text(context={}), {"context.message_id"}),
    "unknown interactive type": (with_interactive(type="buttons"), {"interactive.type"}),
    "button without body": (without(buttons(), "interactive", "body"), {"interactive.body.text"}),
    "interactive body too long": (with_interactive(body={"text": "b" * 1025}), {"interactive.body.text"}),
    "header text too long": (
        with_interactive(header={"type": "text", "text": "h" * 61}),
        {"interactive.header.text"},
    ),
    "text header without text": (with_interactive(header={"type": "text"}), {"interactive.header.text"}),
    "footer too long": (with_interactive(footer={"text": "f" * 61}), {"interactive.footer.text"}),
    "button without action": (without(buttons(), "interactive", "action"), {"interactive.action"}),
    "four buttons": (buttons(4), {"interactive.action.buttons"}),
    "no buttons": (buttons(0), {"interactive.action.buttons"}),
    "button title too long": (buttons(title="t" * 21), {"interactive.action.buttons[0].reply.title"}),
    "button title empty": (buttons(title=""), {"interactive.action.buttons[0].reply.title"}),
    "button id too long": (buttons(id="i" * 257), {"interactive.action.buttons[0].reply.id"}),
    "button id missing": (
        without(buttons(), "interactive", "action", "buttons", 0, "reply", "id"),
        {"interactive.action.buttons[0].reply.id"},
    ),
    "duplicate button ids": (buttons(id="b1"), {"interactive.action.buttons"}),
    "list button empty": (list_message([{"rows": rows(1)}], button=""), {"interactive.action.button"}),
    "list button too long": (
        list_message([{"rows": rows(1)}], button="b" * 21),
        {"interactive.action.button"},
    ),
    "no sections": (list_message([]), {"interactive.action.sections"}),
    "eleven sections": (
        list_message([{"title": f"S{i}", "rows": rows(1)} for i in range(11)]),
        {"interactive.action.sections"},
    ),
    "eleven rows": (
        list_message([{"title": "A", "rows": rows(6, "a")}, {"title": "B", "rows": rows(5, "b")}]),
        {"interactive.action.sections"},
    ),
    "section without rows": (list_message([{"title": "A"}]), {"interactive.action.sections[0].rows"}),
    "untitled section among two": (
        list_message([{"title": "A", "rows": rows(1)}, {"rows": rows(1, "b")}]),
        {"interactive.action.sections[1].title"},
    ),
    "section title too long": (
        list_message([{"title": "s" * 25, "rows": rows(1)}]),
        {"interactive.action.sections[0].title"},
    ),
    "row title too long": (
        list_message([{"rows": rows(1, title="t" * 25)}]),
        {"interactive.action.sections[0].rows[0].title"},
    ),
    "row id too long": (
        list_message([{"rows": rows(1, id="i" * 201)}]),
        {"interactive.action.sections[0].rows[0].id"},
    ),
    "row description too long": (
        list_message([{"rows": rows(1, description="d" * 73)}]),
        {"interactive.action.sections[0].rows[0].description"},
    ),
    "duplicate row ids": (list_message([{"rows": rows(2, id="r1")}]), {"interactive.action.sections"}),
    "cta_url wrong action name": (
        interactive(
            {
                "type": "cta_url",
                "body": {"text": "x"},
                "action": {"name": "url", "parameters": {"display_text": "a", "url": "https://x.co"}},
            }
        ),
        {"interactive.action.name"},
    ),
    "cta_url display text too long": (
        cta(display_text="d" * 21),
        {"interactive.action.parameters.display_text"},
    ),
    "cta_url not http": (cta(url="ftp://kirem.co/file"), {"interactive.action.parameters.url"}),
    "cta_url without parameters": (
        interactive({"type": "cta_url", "body": {"text": "x"}, "action": {"name": "cta_url"}}),
        {"interactive.action.parameters"},
    ),
}


@pytest.mark.parametrize(("body", "keys"), INVALID.values(), ids=INVALID.keys())
def test_obvious_mistakes_are_rejected_on_the_right_key(body: object, keys: set[str]) -> None:
    errors = validate_message(body)
    assert set(errors) == keys
    assert all(isinstance(message, str) and message for message in errors.values())


def test_too_many_buttons_message_is_clear() -> None:
    assert validate_message(buttons(4)) == {
        "interactive.action.buttons": "at most 3 reply buttons are allowed, got 4"
    }


def test_text_too_long_message_names_the_limit() -> None:
    assert (
        validate_message(text("x" * 4097))["text.body"]
        == "text.body must be at most 4096 characters, got 4097"
    )


def test_several_mistakes_are_reported_together() -> None:
    body = {"messaging_product": "whatsapp", "type": "image", "image": {}, "context": {}}
    assert set(validate_message(body)) == {"to", "image", "context.message_id"}


# --- read receipts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x"}, True),
        ({"messaging_product": "whatsapp", "message_id": "wamid.x"}, False),
        (text(), False),
        (["status", "read"], False),
    ],
)
def test_is_read_receipt(body: object, expected: bool) -> None:
    assert is_read_receipt(body) is expected


@pytest.mark.parametrize(
    ("body", "keys"),
    [
        ("read", {"body"}),
        ({"messaging_product": "whatsapp"}, {"message_id"}),
        ({"message_id": ""}, {"message_id"}),
        ({"message_id": "wamid.x", "status": "delivered"}, {"status"}),
        ({"message_id": "wamid.x", "typing_indicator": {"type": "audio"}}, {"typing_indicator"}),
        ({"message_id": "wamid.x", "typing_indicator": True}, {"typing_indicator"}),
        ({"message_id": "wamid.x", "messaging_product": "sms"}, {"messaging_product"}),
    ],
)
def test_read_receipt_mistakes(body: object, keys: set[str]) -> None:
    assert set(validate_read_receipt(body)) == keys


def test_send_endpoint_checks_read_receipts_as_read_receipts() -> None:
    body = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.x",
        "typing_indicator": {},
    }
    assert set(validate_message(body)) == {"typing_indicator"}


@pytest.mark.parametrize("name", sorted(META_EXAMPLES))
@pytest.mark.parametrize("variant", [with_nulls, with_unknown_fields], ids=["nulls", "unknown"])
def test_meta_examples_with_null_optionals_or_unknown_fields_pass(name: str, variant: Any) -> None:
    """Meta reads ``null`` as absent and ignores fields it does not know; so does Kirem."""
    assert validate_message(variant(META_EXAMPLES[name])) == {}


def test_chatwoot_text_with_null_context_passes() -> None:
    chatwoot = {
        "messaging_product": "whatsapp",
        "to": TO,
        "text": {"body": "hi"},
        "type": "text",
        "context": None,
    }
    assert validate_message(chatwoot) == {}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"messaging_product": "whatsapp", "type": "text"}, 131008),
        ({"to": TO, "type": "text", "text": {"body": None}}, 131008),
        ({"to": TO, "type": "text", "text": {"body": "x" * 4097}}, 131009),
        ({"to": TO, "type": "text", "text": {"body": 42}}, 100),
        ({"to": TO, "type": "text", "text": "hello"}, 100),
        ({"to": TO, "type": "fax"}, 100),
    ],
)
def test_refusals_carry_metas_code(body: dict[str, Any], code: int) -> None:
    errors = validate_message(body)
    assert errors and meta_error_code(errors) == code, errors


def test_a_null_type_is_the_type_of_the_one_message_object() -> None:
    body = {"to": TO, "type": None, "image": {"link": "https://example.com/a.png"}, "text": None}
    assert message_type_of(body) == "image" and validate_message(body) == {}
