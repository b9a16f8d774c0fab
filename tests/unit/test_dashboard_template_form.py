"""The template form as Meta's create body, and the service's errors placed beside the form field
that made the component they name."""

from __future__ import annotations

import pytest

from kirem.dashboard.simulator import FormProblem, simulator_body
from kirem.dashboard.templates_page import form_errors, template_body
from kirem.messaging.template_rules import validate_template

FORM = {
    "name": "order_shipped",
    "category": "UTILITY",
    "language": "id",
    "header": "Pesanan",
    "body": "Halo {{1}}, pesanan {{2}} sudah dikirim.",
    "body_examples": "Budi\nINV-001\n",
    "footer": "Toko Kue",
    "quick_replies": "Terima kasih\n\nTanya CS",
    "url_text": "Lacak",
    "url": "https://toko.example.com/lacak",
}


def test_the_form_makes_a_body_meta_accepts() -> None:
    body, made_by = template_body(FORM)
    assert validate_template(body) == {}
    assert [c["type"] for c in body["components"]] == ["HEADER", "BODY", "FOOTER", "BUTTONS"]
    assert body["components"][1]["example"] == {"body_text": [["Budi", "INV-001"]]}
    assert body["components"][3]["buttons"] == [
        {"type": "QUICK_REPLY", "text": "Terima kasih"},
        {"type": "QUICK_REPLY", "text": "Tanya CS"},
        {"type": "URL", "text": "Lacak", "url": "https://toko.example.com/lacak"},
    ]
    assert made_by == {0: "header", 1: "body", 2: "footer", 3: "quick_replies"}


def test_only_what_was_filled_in_becomes_a_component() -> None:
    body, made_by = template_body(
        {**FORM, "header": "", "footer": "", "quick_replies": "", "url_text": "", "url": ""}
    )
    assert [c["type"] for c in body["components"]] == ["BODY"]
    assert made_by == {0: "body"}


def test_errors_land_beside_the_field_that_made_the_component() -> None:
    body, made_by = template_body({**FORM, "header": "x" * 61, "footer": "", "body": "y" * 1025})
    errors = form_errors(validate_template(body), made_by)
    assert set(errors) == {"header", "body"}
    assert "60" in errors["header"] and "1024" in errors["body"]
    bad_name = form_errors(validate_template(template_body({**FORM, "name": "Bad Name"})[0]), made_by)
    assert list(bad_name) == ["name"]


def test_simulator_forms_make_the_simulator_bodies() -> None:
    values = dict.fromkeys(
        ("from", "user_id", "username", "profile_name", "type", "text", "latitude", "longitude", "json", "to",
         "reply_kind", "reply_id", "reply_title", "reply_description", "context"),
        "",
    )  # fmt: skip
    text = simulator_body(
        "customer", "1555", {**values, "username": "@sari.kue", "type": "text", "text": "Halo"}
    )
    assert text == {
        "phone_number_id": "1555",
        "username": "sari.kue",
        "message": {"type": "text", "text": {"body": "Halo"}},
    }
    tap = simulator_body(
        "tap",
        "1555",
        {
            **values,
            "from": "62812",
            "reply_kind": "list_reply",
            "reply_id": "r1",
            "reply_title": "Kue",
            "context": "wamid.A",
        },
    )
    assert tap["message"] == {
        "type": "interactive",
        "interactive": {"type": "list_reply", "list_reply": {"id": "r1", "title": "Kue"}},
        "context": {"id": "wamid.A"},
    }
    contacts = simulator_body(
        "contacts", "1555", {**values, "json": '{"contacts": [], "phone_number_id": "other"}'}
    )
    assert contacts == {"phone_number_id": "1555", "contacts": []}
    for action, bad in (("history", "[1]"), ("contacts", "{oops"), ("customer", "x")):
        kind = "location" if action == "customer" else ""
        with pytest.raises(FormProblem):
            simulator_body(action, "1555", {**values, "type": kind, "latitude": bad, "json": bad})
