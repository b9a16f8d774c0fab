"""Never stricter than Meta: what Meta accepts goes through both modes, nulls and unknown fields included.

Each of Meta's 50 send examples, with real sandbox values in place of its placeholders, is sent with
every optional field ``null`` and with recently added and unknown fields, through ``/v1/messages``
and ``/v23.0/{phone_number_id}/messages``: none may be refused by Kirem's own checks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth
from tests.e2e.test_seed_examples import CUSTOMER, customer_writes, png_bytes
from tests.fixtures import meta_examples
from tests.fixtures.lenient import with_nulls, with_unknown_fields

NO_TYPE = "Send Reply to List Message"
"""The one example without ``type``: Meta (and its sandbox) then reads it as a text message."""
SANDBOX_REFUSAL = "(#100) The parameter text['body'] is required."


def real(example: dict[str, Any], *, media_id: str, inbound: str) -> dict[str, Any]:
    """The example with the sandbox's recipient, media id, template and inbound message."""
    body = copy.deepcopy(example)
    if "to" in body:
        body["to"] = CUSTOMER
    if body.get("status") == "read":
        body["message_id"] = inbound
    kind = body.get("type")
    media = body.get(kind) if isinstance(kind, str) else None
    if isinstance(media, dict):
        if "id" in media:
            media["id"] = media_id
        if "link" in media:
            media["link"] = "https://example.com/file"
    if kind == "template":
        body["template"] = {"name": "hello_world", "language": {"code": "en_US"}}
    return body


@pytest.mark.parametrize("variant", [with_nulls, with_unknown_fields], ids=["nulls", "unknown-fields"])
def test_metas_examples_pass_kirem_with_nulls_and_unknown_fields(
    server: Server, client: httpx.Client, variant: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    boot = server.bootstrap(plan="scale")
    key = auth(boot["api_key"])
    inbound = customer_writes(client, boot)  # opens the 24-hour window: free-form sends are delivered
    upload = client.post("/v1/media", files={"file": ("a.png", png_bytes(), "image/png")}, headers=key)
    assert upload.status_code == 200, upload.text
    media_id = upload.json()["data"]["id"]
    examples = meta_examples()["send_message"]
    assert len(examples) == 50
    graph_path = f"/v23.0/{boot['phone_number_id']}/messages"
    for name, example in examples.items():
        body = variant(real(example, media_id=media_id, inbound=inbound))
        v1 = client.post("/v1/messages", json=body, headers=key)
        graph = client.post(graph_path, json=body, headers=key)
        if name == NO_TYPE:  # refused by Meta's sandbox, not by Kirem
            assert v1.status_code == 400 and v1.json()["errors"]["message"] == SANDBOX_REFUSAL, v1.text
            assert graph.json()["error"]["message"] == SANDBOX_REFUSAL, graph.text
            continue
        assert v1.status_code in (200, 201), (name, body, v1.text)
        assert graph.status_code == 200, (name, body, graph.text)
        answer = graph.json()
        assert answer == {"success": True} or answer["messages"][0]["id"].startswith("wamid."), name


@pytest.mark.parametrize("path", ["/v1/messages", "/v23.0/{phone_number_id}/messages"])
def test_chatwoot_text_with_null_context_is_sent(server: Server, client: httpx.Client, path: str) -> None:
    """Chatwoot's WhatsApp Cloud inbox sends ``"context": null`` on every plain reply."""
    boot = server.bootstrap()
    customer_writes(client, boot)
    body = {
        "messaging_product": "whatsapp",
        "to": CUSTOMER,
        "text": {"body": "Halo dari Chatwoot"},
        "type": "text",
        "context": None,
    }
    response = client.post(path.format(**boot), json=body, headers=auth(boot["api_key"]))
    assert response.status_code in (200, 201), response.text


def test_kirems_refusals_carry_metas_code_and_the_field(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    graph_path = f"/v23.0/{boot['phone_number_id']}/messages"
    cases = [
        ({"messaging_product": "whatsapp", "type": "text", "text": {"body": "hi"}}, 131008, "to"),
        ({"to": CUSTOMER, "type": "text", "text": {"body": "x" * 4097}}, 131009, "text.body"),
        ({"to": CUSTOMER, "type": "text", "text": {"body": 42}}, 100, "text.body"),
    ]
    for body, code, field in cases:
        graph = client.post(graph_path, json=body, headers=key)
        assert graph.status_code == 400, graph.text
        error = graph.json()["error"]
        assert error["code"] == code and error["message"].startswith(f"(#{code}) "), error
        assert isinstance(error["error_data"]["details"], str) and field in error["error_data"]["details"]
        v1 = client.post("/v1/messages", json=body, headers=key)
        assert v1.status_code == 400 and field in v1.json()["errors"], v1.text


def test_template_and_profile_refusals_carry_metas_message_and_title(
    server: Server, client: httpx.Client
) -> None:
    """On Graph paths a refused template or profile reads as Meta's (code, title, subcode and the
    field); ``/v1`` keeps its wrapper's ``Validation failed`` with field errors."""
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    template = {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Order {{1}} is on its way"}],
    }
    body = template["components"][0]
    cases: list[tuple[dict[str, Any], int | None, str, str]] = [
        ({**template, "name": "Order-Update"}, 2388046, "Name Format is Incorrect", "name"),
        ({**template, "components": [{**body, "text": "x" * 1025}]}, 2388040, "Character Limit Exceeded",
         "components[0].text"),
        ({**template, "category": "NEWS"}, None, "Invalid parameter", "category"),
    ]  # fmt: skip
    for refused, subcode, title, field in cases:
        graph = client.post(f"/v23.0/{boot['waba_id']}/message_templates", json=refused, headers=key)
        assert graph.status_code == 400, graph.text
        error = graph.json()["error"]
        assert error["message"] == "(#100) Invalid parameter" and error["code"] == 100, error
        assert error.get("error_subcode") == subcode and error["error_user_title"] == title, error
        assert error["is_transient"] is False and field in error["error_user_msg"], error
        assert field in error["error_data"]["details"], error
        v1 = client.post("/v1/templates", json=refused, headers=key)
        assert v1.status_code == 400 and v1.json()["message"] == "Validation failed", v1.text
        assert field in v1.json()["errors"], v1.text

    profiles = [
        ({"about": "x" * 140}, 131009, "Parameter value is not valid", "about"),
        ({"vertical": "SPACESHIPS"}, 100, "Invalid parameter", "vertical"),
    ]
    for refused, code, message, field in profiles:
        graph = client.post(
            f"/v23.0/{boot['phone_number_id']}/whatsapp_business_profile", json=refused, headers=key
        )
        assert graph.status_code == 400, graph.text
        error = graph.json()["error"]
        assert error["code"] == code and error["message"] == f"(#{code}) {message}", error
        assert field in error["error_data"]["details"], error
        v1 = client.post("/v1/profile", json=refused, headers=key)
        assert v1.status_code == 400 and v1.json()["message"] == "Validation failed", v1.text
        assert field in v1.json()["errors"], v1.text
