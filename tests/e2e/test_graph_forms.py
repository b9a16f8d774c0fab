"""Graph POST bodies as form fields: Graph takes ``application/x-www-form-urlencoded`` and multipart
bodies on its POST edges, JSON-valued fields (``text``, ``template``, ``components``) given as JSON
text, so Graph-compatible mode processes them exactly as the same body sent as JSON."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.test_seed_examples import CUSTOMER, customer_writes, logs


def fields(**values: Any) -> dict[str, str]:
    """A body as form fields: objects and lists as JSON text, booleans as ``true``/``false``."""
    return {
        name: json.dumps(value) if isinstance(value, dict | list | bool) else str(value)
        for name, value in values.items()
    }


def multipart(values: dict[str, str]) -> dict[str, tuple[None, str]]:
    return {name: (None, value) for name, value in values.items()}


def sent(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    wamid = response.json()["messages"][0]["id"]
    assert isinstance(wamid, str) and wamid.startswith("wamid."), response.text
    return wamid


def test_sends_and_read_receipts_as_form_fields_are_processed_like_json(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    path = f"/v23.0/{boot['phone_number_id']}/messages"
    inbound = customer_writes(client, boot)

    text = fields(
        messaging_product="whatsapp", to=CUSTOMER, type="text", text={"body": "Halo", "preview_url": False}
    )
    text_id = sent(client.post(path, data={**text, "access_token": key}))  # url-encoded, the token a field
    template = fields(
        messaging_product="whatsapp",
        to=CUSTOMER,
        type="template",
        template={"name": "hello_world", "language": {"code": "en_US"}},
    )
    template_id = sent(
        client.post(path, files=multipart(template), headers=auth(key))
    )  # multipart, a Bearer token
    receipt = fields(messaging_product="whatsapp", status="read", message_id=inbound)
    read = client.post(path, data=receipt, params={"access_token": key})
    assert read.status_code == 200 and read.json() == {"success": True}, read.text

    logged = {entry["message_id"]: entry["type"] for entry in logs(client, key, direction="outbound")["logs"]}
    assert logged == {text_id: "text", template_id: "template"}, logged


def test_template_creation_and_profile_update_as_form_fields(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    waba, number = boot["waba_id"], boot["phone_number_id"]
    template = fields(
        name="form_order_update",
        language="en_US",
        category="UTILITY",
        allow_category_change=True,
        components=[{"type": "BODY", "text": "Order {{1}} is ready"}],
    )
    created = client.post(f"/v23.0/{waba}/message_templates", data=template, headers=key)
    assert created.status_code == 200 and created.json()["id"].isdigit(), created.text

    def listed() -> list[dict[str, Any]]:
        page = client.get(
            f"/v23.0/{waba}/message_templates", params={"name": "form_order_update"}, headers=key
        )
        return list(page.json()["data"])

    [found] = wait_for(listed)
    assert found["components"][0]["text"] == "Order {{1}} is ready" and found["category"] == "UTILITY"

    profile = fields(messaging_product="whatsapp", about="Dari formulir", websites=["https://example.com/"])
    updated = client.post(f"/v23.0/{number}/whatsapp_business_profile", files=multipart(profile), headers=key)
    assert updated.status_code == 200 and updated.json() == {"success": True}, updated.text
    read = client.get(f"/v23.0/{number}/whatsapp_business_profile", headers=key).json()["data"][0]
    assert read["about"] == "Dari formulir" and read["websites"] == ["https://example.com/"]


def test_form_fields_meet_the_same_checks_as_json(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    path = f"/v23.0/{boot['phone_number_id']}/messages"

    not_an_object = client.post(path, data={"to": CUSTOMER, "type": "text", "text": "not json"}, headers=key)
    assert not_an_object.status_code == 400, not_an_object.text
    error = not_an_object.json()["error"]
    assert error["code"] == 100 and "text" in error["error_data"]["details"], error

    with_a_file = client.post(path, data={"to": CUSTOMER}, files={"text": ("t.json", b"{}")}, headers=key)
    assert with_a_file.status_code == 400, with_a_file.text
    assert "text" in with_a_file.json()["error"]["error_data"]["details"]

    other = client.post(path, content=b"to=1", headers={**key, "Content-Type": "text/plain"})
    assert other.status_code == 415 and other.json()["error"]["code"] == 100, other.text
    # Kirem's own API keeps to JSON (docs/api.md)
    v1 = client.post("/v1/messages", data={"to": CUSTOMER, "type": "text"}, headers=key)
    assert v1.status_code == 415 and v1.json()["status"] == 415, v1.text


def test_a_nul_in_a_form_field_is_refused_naming_the_field(server: Server, client: httpx.Client) -> None:
    """PostgreSQL cannot store U+0000: a form field holding one (raw, or escaped in its JSON text)
    is refused as in a JSON body, before anything is stored or sent."""
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    customer_writes(client, boot)
    path = f"/v23.0/{boot['phone_number_id']}/messages"
    text = fields(messaging_product="whatsapp", to=CUSTOMER, type="text", text={"body": "Halo"})
    cases = [
        ({**text, "biz_opaque_callback_data": "x\x00y"}, "biz_opaque_callback_data"),
        ({**text, "text": json.dumps({"body": "a\x00b"})}, "text.body"),
    ]
    for body, field in cases:
        for sent_as in ({"data": body}, {"files": multipart(body)}):
            refused = client.post(path, headers=key, **sent_as)  # type: ignore[arg-type]
            assert refused.status_code == 400, refused.text
            error = refused.json()["error"]
            assert error["message"] == "(#100) Invalid parameter", error
            assert error["code"] == 100 and field in error["error_data"]["details"], error
    assert logs(client, boot["api_key"], direction="outbound")["total"] == 0
