"""Template creation checks: seed and Meta examples pass, Meta's limits are enforced on the right key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kirem.messaging.template_rules import template_variable_counts, validate_template
from tests.fixtures import meta_examples, seed_examples

SEED_TEMPLATES = seed_examples()["message_template_create"]
SEED_COMPONENTS = seed_examples()["template_component"]
META_TEMPLATES = meta_examples()["message_template_create"]

BODY = {"type": "BODY", "text": "Halo {{1}}, pesanan Anda #{{2}} sedang diproses."}


def template(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    base = {"name": "konfirmasi_pesanan", "category": "UTILITY", "language": "id"}
    return {**base, "components": list(components) or [dict(BODY)], **fields}


def header(text: str) -> dict[str, Any]:
    return {"type": "HEADER", "format": "TEXT", "text": text}


def body(text: str) -> dict[str, Any]:
    return {"type": "BODY", "text": text}


def buttons(*items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "BUTTONS", "buttons": list(items)}


def quick_reply(text: str = "Ya") -> dict[str, Any]:
    return {"type": "QUICK_REPLY", "text": text}


def url_button(url: str = "https://kirem.co.id/promo", text: str = "Lihat") -> dict[str, Any]:
    return {"type": "URL", "text": text, "url": url}


def phone_button(phone_number: str = "62812345678") -> dict[str, Any]:
    return {"type": "PHONE_NUMBER", "text": "Telepon", "phone_number": phone_number}


# --- examples that must pass ---------------------------------------------------------------------


def test_seed_has_the_documented_templates() -> None:
    names = {t["name"] for t in SEED_TEMPLATES}
    assert {"promo_diskon_baru", "konfirmasi_pesanan", "broadcast_promo", "notif_pesanan_baru"} <= names


@pytest.mark.parametrize("body", SEED_TEMPLATES, ids=lambda t: t["name"])
def test_every_seed_template_passes(body: dict[str, Any]) -> None:
    assert validate_template(body) == {}


@pytest.mark.parametrize("component", SEED_COMPONENTS, ids=lambda c: c["type"])
def test_every_seed_component_snippet_passes_inside_a_template(component: dict[str, Any]) -> None:
    components = [component] if component["type"] == "BODY" else [dict(BODY), component]
    assert validate_template(template(*components)) == {}


def test_seed_quick_reply_plus_url_template_passes_despite_the_2_button_note() -> None:
    snippet = next(c for c in SEED_COMPONENTS if c["type"] == "BUTTONS")
    assert [b["type"] for b in snippet["buttons"]] == ["QUICK_REPLY", "URL"]
    assert validate_template(template(dict(BODY), snippet)) == {}


@pytest.mark.parametrize("name", sorted(META_TEMPLATES))
def test_meta_template_examples_pass_except_for_their_sample_names(name: str) -> None:
    example = META_TEMPLATES[name]
    expected = {"name"} if example["name"] == "<TEMPLATE_NAME>" else set()
    assert set(validate_template(example)) == expected
    assert validate_template({**example, "name": "meta_example"}) == {}


VALID = {
    "lowercase types and category": template({"type": "body", "text": "Hi {{1}}"}, category="utility"),
    "ten buttons": template(
        dict(BODY),
        buttons(*[quick_reply(f"Opsi {i}") for i in range(7)], url_button(), url_button(), phone_button()),
    ),
    "url variable at the end": template(dict(BODY), buttons(url_button("https://kirem.co.id/pesanan/{{1}}"))),
    "repeated variable": template(body("{{1}} dan {{1}} lagi, {{2}}")),
    "header with one variable": template(header("Halo {{1}}"), dict(BODY)),
    "header at 60": template(header("h" * 60), dict(BODY)),
    "body at 1024": template(body("b" * 1024)),
    "footer at 60": template(dict(BODY), {"type": "FOOTER", "text": "f" * 60}),
    "button text at 25": template(dict(BODY), buttons(quick_reply("t" * 25))),
    "media header": template(
        {"type": "HEADER", "format": "image", "example": {"header_handle": ["4::a"]}}, dict(BODY)
    ),
    "location header": template({"type": "HEADER", "format": "LOCATION"}, dict(BODY)),
    "named variables": template(body("Halo {{first_name}}, kode {{order_id}}"), parameter_format="NAMED"),
    "named, lowercase format": template(body("Halo {{first_name}}"), parameter_format="named"),
    "allow_category_change": template(allow_category_change=True),
    "authentication body without text": template(
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        buttons({"type": "OTP", "otp_type": "COPY_CODE", "text": "Salin Kode"}),
        category="AUTHENTICATION",
    ),
    "copy code button without text": template(
        dict(BODY), buttons({"type": "COPY_CODE", "example": "HEMAT50"})
    ),
    "name at 512": template(name="a" * 512),
}


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
def test_valid_templates_pass(body: dict[str, Any]) -> None:
    assert validate_template(body) == {}


# --- mistakes ------------------------------------------------------------------------------------

INVALID: dict[str, tuple[object, set[str]]] = {
    "not an object": ([], {"body"}),
    "name with spaces": (template(name="Promo Baru"), {"name"}),
    "name with capitals": (template(name="PromoBaru"), {"name"}),
    "name too long": (template(name="a" * 513), {"name"}),
    "name missing": ({k: v for k, v in template().items() if k != "name"}, {"name"}),
    "unknown category": (template(category="PROMO"), {"category"}),
    "language empty": (template(language=""), {"language"}),
    "language as object": (template(language={"code": "id"}), {"language"}),
    "components missing": ({k: v for k, v in template().items() if k != "components"}, {"components"}),
    "components empty": ({**template(), "components": []}, {"components"}),
    "no body": (template(header("Promo")), {"components"}),
    "two bodies": (template(dict(BODY), dict(BODY)), {"components[1].type"}),
    "two footers": (
        template(dict(BODY), {"type": "FOOTER", "text": "a"}, {"type": "FOOTER", "text": "b"}),
        {"components[2].type"},
    ),
    "unknown component": (template(dict(BODY), {"type": "TITLE", "text": "x"}), {"components[1].type"}),
    "component not an object": (template(dict(BODY), "FOOTER"), {"components[1]"}),
    "unknown header format": (
        template({"type": "HEADER", "format": "AUDIO"}, dict(BODY)),
        {"components[0].format"},
    ),
    "text header without text": (
        template({"type": "HEADER", "format": "TEXT"}, dict(BODY)),
        {"components[0].text"},
    ),
    "header too long": (template(header("h" * 61), dict(BODY)), {"components[0].text"}),
    "header with two variables": (template(header("{{1}} dan {{2}}"), dict(BODY)), {"components[0].text"}),
    "body without text": (template({"type": "BODY"}), {"components[0].text"}),
    "body too long": (template(body("b" * 1025)), {"components[0].text"}),
    "variable gap": (template(body("Halo {{1}}, kode {{3}}")), {"components[0].text"}),
    "variables not from 1": (template(body("Halo {{2}}")), {"components[0].text"}),
    "variable zero": (template(body("Halo {{0}}")), {"components[0].text"}),
    "malformed variable": (template(body("Halo {{first name}}")), {"components[0].text"}),
    "named variable without NAMED": (template(body("Halo {{first_name}}")), {"components[0].text"}),
    "positional variable with NAMED": (
        template(body("Halo {{1}}"), parameter_format="NAMED"),
        {"components[0].text"},
    ),
    "unknown parameter_format": (template(parameter_format="XML"), {"parameter_format"}),
    "allow_category_change not boolean": (template(allow_category_change="yes"), {"allow_category_change"}),
    "footer too long": (template(dict(BODY), {"type": "FOOTER", "text": "f" * 61}), {"components[1].text"}),
    "footer with variable": (
        template(dict(BODY), {"type": "FOOTER", "text": "Kode {{1}}"}),
        {"components[1].text"},
    ),
    "footer without text": (template(dict(BODY), {"type": "FOOTER"}), {"components[1].text"}),
    "buttons empty": (template(dict(BODY), buttons()), {"components[1].buttons"}),
    "eleven buttons": (
        template(dict(BODY), buttons(*[quick_reply(f"{i}") for i in range(11)])),
        {"components[1].buttons"},
    ),
    "three url buttons": (
        template(dict(BODY), buttons(url_button(), url_button(), url_button())),
        {"components[1].buttons"},
    ),
    "two phone buttons": (
        template(dict(BODY), buttons(phone_button(), phone_button())),
        {"components[1].buttons"},
    ),
    "unknown button type": (
        template(dict(BODY), buttons({"type": "LINK", "text": "x"})),
        {"components[1].buttons[0].type"},
    ),
    "button text too long": (
        template(dict(BODY), buttons(quick_reply("t" * 26))),
        {"components[1].buttons[0].text"},
    ),
    "quick reply without text": (
        template(dict(BODY), buttons({"type": "QUICK_REPLY"})),
        {"components[1].buttons[0].text"},
    ),
    "url button without url": (
        template(dict(BODY), buttons({"type": "URL", "text": "Lihat"})),
        {"components[1].buttons[0].url"},
    ),
    "url button not http": (
        template(dict(BODY), buttons(url_button("ftp://kirem.co.id"))),
        {"components[1].buttons[0].url"},
    ),
    "url button with two variables": (
        template(dict(BODY), buttons(url_button("https://kirem.co.id/{{1}}/{{2}}"))),
        {"components[1].buttons[0].url"},
    ),
    "url variable not at the end": (
        template(dict(BODY), buttons(url_button("https://kirem.co.id/{{1}}/detail"))),
        {"components[1].buttons[0].url"},
    ),
    "phone button without number": (
        template(dict(BODY), buttons(phone_button(""))),
        {"components[1].buttons[0].phone_number"},
    ),
}


@pytest.mark.parametrize(("body", "keys"), INVALID.values(), ids=INVALID.keys())
def test_mistakes_are_rejected_on_the_right_key(body: object, keys: set[str]) -> None:
    errors = validate_template(body)
    assert set(errors) == keys
    assert all(isinstance(message, str) and message for message in errors.values())


def test_gap_message_explains_the_numbering() -> None:
    errors = validate_template(template(body("Halo {{1}}, kode {{3}}")))
    assert errors == {"components[0].text": "variables must be numbered {{1}}, {{2}}, … without gaps"}


def test_validation_does_not_modify_the_body() -> None:
    original = template(header("Halo {{1}}"), dict(BODY), buttons(quick_reply()), category="marketing")
    snapshot = copy.deepcopy(original)
    validate_template(original)
    assert original == snapshot


# --- variable counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        ([header("Halo {{1}}"), body("{{1}} {{2}} {{3}}")], {"header": 1, "body": 3}),
        ([{"type": "body", "text": "{{2}} lalu {{1}} dan {{2}}"}], {"header": 0, "body": 2}),
        ([body("Tanpa variabel"), {"type": "FOOTER", "text": "x"}], {"header": 0, "body": 0}),
        ([body("{{first_name}} {{code}} {{first_name}}")], {"header": 0, "body": 2}),
        ([{"type": "HEADER", "format": "IMAGE"}, "junk", {"type": 3}], {"header": 0, "body": 0}),
        ("not a list", {"header": 0, "body": 0}),
    ],
)
def test_template_variable_counts(components: Any, expected: dict[str, int]) -> None:
    assert template_variable_counts(components) == expected


def test_variable_counts_of_the_seed_promo_template() -> None:
    promo = next(t for t in SEED_TEMPLATES if t["name"] == "promo_diskon_baru")
    assert template_variable_counts(promo["components"]) == {"header": 0, "body": 3}


@pytest.mark.parametrize("body", [*SEED_TEMPLATES, *META_TEMPLATES.values()], ids=lambda t: t["name"])
def test_null_optionals_and_unknown_fields_pass(body: dict[str, Any]) -> None:
    """``null`` is an absent field and unknown fields are Meta's to judge, at any level."""
    lenient = copy.deepcopy({**body, "name": "meta_example"})
    lenient.update(parameter_format=None, allow_category_change=None, future_field={"a": 1})
    for component in lenient["components"]:
        component["future_field"] = None
        for button in component.get("buttons") or []:
            button["future_field"] = "x"
            if button["type"].upper() not in ("QUICK_REPLY", "URL", "PHONE_NUMBER"):
                button.setdefault("text", None)
    assert validate_template(lenient) == {}
