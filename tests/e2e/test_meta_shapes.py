"""Answers Meta's clients parse: every object carries the fields Meta always returns, in both modes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import Server, auth
from tests.e2e.test_seed_examples import CUSTOMER, customer_writes, png_bytes

TEMPLATE_FIELDS = {
    "id": str,
    "name": str,
    "language": str,
    "status": str,
    "category": str,
    "components": list,
    "parameter_format": str,
}
MEDIA_FIELDS = {
    "messaging_product": str,
    "url": str,
    "mime_type": str,
    "sha256": str,
    "file_size": str,
    "id": str,
}
PROFILE_FIELDS = {
    "about": str,
    "address": str,
    "description": str,
    "email": str,
    "profile_picture_url": str,
    "websites": list,
    "vertical": str,
}


def types_of(obj: dict[str, Any], fields: dict[str, type]) -> dict[str, type]:
    return {field: type(obj.get(field)) for field in fields}


def test_templates_media_sends_and_profile_carry_metas_fields(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    number, waba = boot["phone_number_id"], boot["waba_id"]
    named = {
        "name": "named_shape",
        "language": "en_US",
        "category": "UTILITY",
        "parameter_format": "NAMED",
        "components": [{"type": "BODY", "text": "Order {{order_id}} is on its way"}],
    }
    assert client.post("/v1/templates", json=named, headers=key).status_code == 200

    v1_templates = client.get("/v1/templates", headers=key).json()["data"]
    graph_templates = client.get(f"/v23.0/{waba}/message_templates", headers=key).json()["data"]
    for listed in (v1_templates, graph_templates):
        assert {t["name"] for t in listed} == {"hello_world", "named_shape"}
        for template in listed:
            assert types_of(template, TEMPLATE_FIELDS) == TEMPLATE_FIELDS, template
        formats = {t["name"]: t["parameter_format"] for t in listed}
        assert formats == {"hello_world": "POSITIONAL", "named_shape": "NAMED"}

    uploaded = client.post("/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=key)
    media_id = uploaded.json()["data"]["id"]
    metadata = client.get(f"/v23.0/{media_id}", headers=key).json()
    assert types_of(metadata, MEDIA_FIELDS) == MEDIA_FIELDS and metadata["id"] == media_id, metadata

    customer_writes(client, boot)
    hello = {
        "messaging_product": "whatsapp",
        "to": CUSTOMER,
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    text = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "Halo"}}
    v1_sent = client.post("/v1/messages", json=hello, headers=key).json()["data"]
    graph_sent = client.post(f"/v23.0/{number}/messages", json=hello, headers=key).json()
    graph_text = client.post(f"/v23.0/{number}/messages", json=text, headers=key).json()
    for answer in (v1_sent, graph_sent, graph_text):
        assert answer["messaging_product"] == "whatsapp"
        assert answer["contacts"] == [{"input": CUSTOMER, "wa_id": CUSTOMER}]
        assert answer["messages"][0]["id"].startswith("wamid.")
    assert (
        v1_sent["messages"][0]["message_status"] == graph_sent["messages"][0]["message_status"] == "accepted"
    )

    update = {"messaging_product": "whatsapp", "about": "Kirem", "websites": ["https://kirem.id"]}
    assert (
        client.post(f"/v23.0/{number}/whatsapp_business_profile", json=update, headers=key).status_code == 200
    )
    [graph_profile] = client.get(f"/v23.0/{number}/whatsapp_business_profile", headers=key).json()["data"]
    v1_profile = client.get("/v1/profile", headers=key).json()["data"]
    assert graph_profile["messaging_product"] == "whatsapp"
    for profile in (graph_profile, v1_profile):
        assert types_of(profile, PROFILE_FIELDS) == PROFILE_FIELDS, profile
        assert profile["about"] == "Kirem" and profile["websites"] == ["https://kirem.id"]
