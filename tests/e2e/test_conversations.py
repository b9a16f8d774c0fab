"""Conversations over REST through the real server and sandbox: inbox, timeline, window, isolation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_routing import add_target, inbound

CUSTOMER = "62811112222"


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def conversations(client: httpx.Client, key: str, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/conversations", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def conversation(client: httpx.Client, key: str, conversation_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/conversations/{conversation_id}", headers=auth(key))
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_a_customer_message_opens_a_conversation_and_a_reply_joins_its_timeline(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(client, key, consumer.endpoint("/inbox"), events=["messages.received"])
    inbound(client, boot, {"type": "text", "text": {"body": "Halo, apakah produk X ready?"}}, sender=CUSTOMER)
    listing = wait_for(lambda: conversations(client, key, status="open")["conversations"])
    [chat] = listing
    assert (
        chat["customer_phone"] == CUSTOMER and chat["customer_name"] == "Budi" and chat["window_open"] is True
    )
    uuid.UUID(chat["id"])
    [event] = consumer.wait_for("/inbox", 1)
    assert event.json()["data"]["conversation_id"] == chat["id"]

    reply = client.post(
        f"/v1/conversations/{chat['id']}/messages", json={"text": "Ready kak!"}, headers=auth(key)
    )
    assert reply.status_code == 201, reply.text
    wamid = reply.json()["data"]["messages"][0]["id"]

    def replied_and_read() -> list[dict[str, Any]] | None:
        messages = conversation(client, key, chat["id"])["timeline"]["messages"]
        return messages if messages[-1]["status"] == "read" else None

    messages = wait_for(replied_and_read)
    assert [(m["sender"], m["text"]) for m in messages] == [
        ("customer", "Halo, apakah produk X ready?"),
        ("api", "Ready kak!"),
    ]
    assert messages[-1]["message_id"] == wamid

    sent = client.post(
        "/v1/messages",
        json={
            "messaging_product": "whatsapp",
            "to": CUSTOMER,
            "type": "text",
            "text": {"body": "lewat /v1/messages"},
        },
        headers=auth(key),
    )
    assert sent.status_code == 201
    timeline = conversation(client, key, chat["id"])["timeline"]
    assert timeline["total"] == 3 and timeline["messages"][-1]["sender"] == "api"
    page = client.get(
        f"/v1/conversations/{chat['id']}", params={"limit": 1, "offset": 1}, headers=auth(key)
    ).json()["data"]
    assert page["timeline"]["messages"][0]["text"] == "Ready kak!"


def test_status_changes_and_a_resolved_conversation_reopens(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    inbound(client, boot, {"type": "text", "text": {"body": "halo"}}, sender=CUSTOMER)
    [chat] = wait_for(lambda: conversations(client, key)["conversations"])
    for status in ("pending", "on_hold", "resolved"):
        changed = client.patch(f"/v1/conversations/{chat['id']}", json={"status": status}, headers=auth(key))
        assert changed.status_code == 200 and changed.json()["data"]["status"] == status
    assert conversations(client, key, status="resolved")["total"] == 1
    inbound(client, boot, {"type": "text", "text": {"body": "saya lagi"}}, sender=CUSTOMER)
    assert wait_for(lambda: conversations(client, key, status="open")["total"] == 1)
    assert conversations(client, key)["conversations"][0]["id"] == chat["id"]
    bad = client.patch(
        f"/v1/conversations/{chat['id']}", json={"status": "archived", "x": 1}, headers=auth(key)
    )
    assert bad.status_code == 400
    assert (
        client.get("/v1/conversations", params={"status": "archived"}, headers=auth(key)).status_code == 400
    )


def test_reply_outside_the_window_is_explained_and_templates_still_go(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    hello = {
        "messaging_product": "whatsapp",
        "to": "6289876543",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    assert client.post("/v1/messages", json=hello, headers=auth(key)).status_code == 201
    [chat] = conversations(client, key)["conversations"]
    assert chat["window_open"] is False
    refused = client.post(
        f"/v1/conversations/{chat['id']}/messages", json={"text": "halo"}, headers=auth(key)
    )
    assert refused.status_code == 409
    assert "131047" in refused.json()["message"] and "template" in refused.json()["message"]
    template = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    assert (
        client.post(f"/v1/conversations/{chat['id']}/messages", json=template, headers=auth(key)).status_code
        == 201
    )


def test_conversations_are_isolated_and_bad_input_is_clear(server: Server, client: httpx.Client) -> None:
    mine = server.bootstrap()
    theirs = server.bootstrap()
    inbound(client, theirs, {"type": "text", "text": {"body": "rahasia"}}, sender=CUSTOMER)
    [chat] = wait_for(lambda: conversations(client, theirs["api_key"])["conversations"])
    key = auth(mine["api_key"])
    for path in (
        f"/v1/conversations/{chat['id']}",
        "/v1/conversations/not-a-uuid",
        f"/v1/conversations/{uuid.uuid4()}",
    ):
        assert client.get(path, headers=key).status_code == 404
        assert client.patch(path, json={"status": "open"}, headers=key).status_code == 404
        assert client.post(f"{path}/messages", json={"text": "x"}, headers=key).status_code == 404
    assert conversations(client, mine["api_key"])["total"] == 0
    theirs_key = auth(theirs["api_key"])
    too_long = client.post(
        f"/v1/conversations/{chat['id']}/messages", json={"text": "x" * 4097}, headers=theirs_key
    )
    assert too_long.status_code == 400 and "text" in too_long.json()["errors"]
    nonsense = client.post(
        f"/v1/conversations/{chat['id']}/messages", json={"type": "carrier_pigeon"}, headers=theirs_key
    )
    assert nonsense.status_code == 400
    assert client.get("/v1/conversations", params={"limit": 0}, headers=theirs_key).status_code == 400
