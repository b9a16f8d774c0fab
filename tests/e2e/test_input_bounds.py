"""Hostile input at the boundary: NUL characters and out-of-range numbers get a 400 naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.test_seed_examples import customer_writes

NUL = "\u0000"
HUGE = "99999999999999999999999"


@pytest.fixture
def boot(server: Server) -> dict[str, Any]:
    return server.bootstrap(plan="scale")


def conversation_id(client: httpx.Client, boot: dict[str, Any]) -> str:
    customer_writes(client, boot)

    def listed() -> list[dict[str, Any]]:
        response = client.get("/v1/conversations", headers=auth(boot["api_key"]))
        return list(response.json()["data"]["conversations"])

    found = wait_for(listed)
    assert found, "the customer's message opened no conversation"
    return str(found[0]["id"])


def assert_field_error(response: httpx.Response, field: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and field in body["errors"], body


def assert_meta_error(response: httpx.Response, mentions: str) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100 and mentions in str(error), error


# --- NUL characters -----------------------------------------------------------------------------


def test_nul_in_json_bodies_is_a_400_naming_the_field(
    server: Server, client: httpx.Client, boot: dict[str, Any]
) -> None:
    key, account = boot["api_key"], boot["account_token"]
    text = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": NUL}}
    assert_field_error(client.post("/v1/messages", json=text, headers=auth(key)), "text.body")
    target = {"url": "http://127.0.0.1:9/hook", "description": f"a{NUL}b"}
    assert_field_error(client.post("/v1/webhooks/targets", json=target, headers=auth(key)), "description")
    project = {"name": f"shop{NUL}"}
    assert_field_error(client.post("/v1/manage/projects", json=project, headers=auth(account)), "name")
    rule = {"name": "r", "conditions": {"keywords": ["ok", f"x{NUL}"]}, "target_ids": []}
    assert_field_error(
        client.post("/v1/webhooks/rules", json=rule, headers=auth(key)), "conditions.keywords[1]"
    )
    reply = client.post(
        f"/v1/conversations/{conversation_id(client, boot)}/messages", json={"text": NUL}, headers=auth(key)
    )
    assert_field_error(reply, "text")
    template = {"name": "promo", "language": "en_US", "category": "MARKETING", "components": [{NUL: 1}]}
    assert_field_error(client.post("/v1/templates", json=template, headers=auth(key)), "components[0]")
    operator = {"name": f"acme{NUL}", "plan": "growth"}
    response = client.post(
        "/v1/operator/accounts", json=operator, headers={"Authorization": "Bearer operator-e2e"}
    )
    assert_field_error(response, "name")


def test_nul_on_graph_compatible_and_sandbox_paths_is_metas_error(
    server: Server, client: httpx.Client, boot: dict[str, Any]
) -> None:
    text = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": NUL}}
    graph = client.post(
        f"/v23.0/{boot['phone_number_id']}/messages", json=text, headers=auth(boot["api_key"])
    )
    assert_meta_error(graph, "text.body")
    inbound = {
        "phone_number_id": boot["phone_number_id"],
        "from": "62812345678",
        "message": {"type": "text", "text": {"body": NUL}},
    }
    assert_meta_error(client.post("/sandbox/v1/inbound", json=inbound), "message.text.body")
    templates = client.get(
        f"/v23.0/{boot['waba_id']}/message_templates", params={"status": NUL}, headers=auth(boot["api_key"])
    )
    assert_meta_error(templates, "status")
    sandbox = client.get(f"/sandbox/v23.0/{boot['waba_id']}/message_templates", params={"name": NUL})
    assert_meta_error(sandbox, "name")


def test_nul_in_query_strings_and_paths_is_a_400(
    server: Server, client: httpx.Client, boot: dict[str, Any]
) -> None:
    key = boot["api_key"]
    for path, name in [
        ("/v1/analytics/messages", "recipient"),
        ("/v1/analytics/webhooks", "target_id"),
        ("/v1/webhooks/deliveries", "event_id"),
        ("/v1/contacts", "channel_id"),
        ("/v1/templates", "channel_id"),
    ]:
        assert_field_error(client.get(path, params={name: f"x{NUL}"}, headers=auth(key)), name)
    for path in ("/v1/webhooks/targets/tgt%00x", "/v1/events/evt%00", "/v1/webhooks/deliveries/%00"):
        assert_field_error(client.get(path, headers=auth(key)), "path")
    mcp = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "list_conversations", "arguments": {"status": NUL}},
    }
    assert_field_error(client.post("/v1/mcp", json=mcp, headers=auth(key)), "params.arguments.status")


def test_a_backslash_u0000_text_that_is_not_a_nul_is_accepted(
    server: Server, client: httpx.Client, boot: dict[str, Any]
) -> None:
    target = {"url": "http://127.0.0.1:9/hook", "description": "C:\\u0000 is fine"}
    created = client.post("/v1/webhooks/targets", json=target, headers=auth(boot["api_key"]))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["description"] == "C:\\u0000 is fine"


# --- numbers in query strings -------------------------------------------------------------------

LISTS = [
    "/v1/analytics/messages",
    "/v1/analytics/webhooks",
    "/v1/events",
    "/v1/webhooks/deliveries",
    "/v1/conversations",
    "/v1/contacts",
]


BAD_NUMBERS = [
    ("offset", HUGE),
    ("offset", "-1"),
    ("offset", "ten"),
    ("offset", "٣"),
    ("offset", "1e3"),
    ("limit", HUGE),
    ("limit", "0"),
    ("limit", "-5"),
    ("limit", "２"),
    ("limit", "9" * 5000),
    ("since", HUGE),
    ("since", "１７００００００００"),
    ("until", "-1"),
    ("until", "99999-01-01"),
]


def test_every_numeric_query_parameter_is_bounded(
    server: Server, client: httpx.Client, boot: dict[str, Any]
) -> None:
    key = boot["api_key"]
    timeline = f"/v1/conversations/{conversation_id(client, boot)}"
    for name, value in BAD_NUMBERS:
        paths = [*LISTS, timeline]
        if name in ("since", "until"):
            paths = [p for p in paths if "conversations" not in p and "contacts" not in p]
        for path in paths:
            response = client.get(path, params={name: value}, headers=auth(key))
            assert_field_error(response, name)
            assert "must be" in response.json()["errors"][name]
        if name in ("since", "until"):
            replay = client.post("/v1/webhooks/replay", json={name: value}, headers=auth(key))
            assert_field_error(replay, name)


def test_in_range_numbers_still_work(server: Server, client: httpx.Client, boot: dict[str, Any]) -> None:
    key = boot["api_key"]
    for path in LISTS:
        params = {"offset": "2147483647", "limit": "500"}
        response = client.get(path, params=params, headers=auth(key))
        assert response.status_code == 200, (path, response.text)
    events = client.get("/v1/events", params={"since": "0", "until": "9999-12-31"}, headers=auth(key))
    assert events.status_code == 200, events.text
