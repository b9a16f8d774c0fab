"""A customer with a username and no phone number writes through a raw, signed Meta webhook: rules
route them by BSUID, a conversation opens and is answered, and when the same customer later
shares their number it stays one conversation."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kirem.meta.signatures import sign
from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server

META_APP_SECRET = "meta-app-secret-e2e"
PARENT = "US.ENT.11815799212886844830"


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def meta_webhook(client: httpx.Client, boot: dict[str, Any], user_id: str, phone: str | None) -> str:
    """Meta's message webhook of a customer known by BSUID and username, with a number or without."""
    wamid = f"wamid.{uuid.uuid4().hex}"
    contact: dict[str, Any] = {
        "profile": {"name": "Sheena", "username": "@sheena"},
        "user_id": user_id,
        "parent_user_id": PARENT,
    }
    message: dict[str, Any] = {
        "from_user_id": user_id,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Halo, masih ada stok?"},
    }
    if phone:
        contact["wa_id"] = message["from"] = phone
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": boot["phone_number_id"]},
        "contacts": [contact],
        "messages": [message],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": boot["waba_id"], "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(envelope).encode()
    response = client.post(
        "/webhooks/meta",
        content=body,
        headers={"X-Hub-Signature-256": sign(META_APP_SECRET, body), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    return wamid


def conversations(client: httpx.Client, key: str, customer: str) -> list[dict[str, Any]]:
    response = client.get("/v1/conversations", params={"customer": customer}, headers=auth(key))
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["conversations"])


def add_target_for(client: httpx.Client, key: str, url: str, senders: list[str]) -> None:
    target = client.post("/v1/webhooks/targets", json={"url": url}, headers=auth(key))
    assert target.status_code == 201, target.text
    rule = {
        "name": f"senders {senders}",
        "conditions": {"senders": senders},
        "target_ids": [target.json()["data"]["id"]],
    }
    response = client.post("/v1/webhooks/rules", json=rule, headers=auth(key))
    assert response.status_code == 201, response.text


def test_a_username_only_customer_is_routed_answered_and_stays_one_conversation(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    user_id = f"US.{uuid.uuid4().int % 10**20:020d}"
    phone = f"1650{uuid.uuid4().int % 10**7:07d}"
    add_target_for(client, key, consumer.endpoint("/by-bsuid"), ["US.*"])
    add_target_for(client, key, consumer.endpoint("/by-number"), ["62*"])

    wamid = meta_webhook(client, boot, user_id, phone=None)
    [delivered] = consumer.wait_for("/by-bsuid", 1)
    event = delivered.json()
    assert event["event"] == "messages.received" and event["data"]["message_id"] == wamid
    assert event["data"]["from"] is None
    assert (event["data"]["user_id"], event["data"]["parent_user_id"]) == (user_id, PARENT)
    assert event["data"]["username"] == "@sheena"

    [chat] = wait_for(lambda: conversations(client, key, user_id))
    assert event["data"]["conversation_id"] == chat["id"]
    assert chat["customer_phone"] is None and chat["customer_user_id"] == user_id
    assert chat["customer_username"] == "@sheena" and chat["customer_parent_user_id"] == PARENT
    assert chat["window_open"] is True

    reply = client.post(
        f"/v1/conversations/{chat['id']}/messages", json={"text": "Ada, kak!"}, headers=auth(key)
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["data"]["contacts"][0]["user_id"] == user_id
    detail = client.get(f"/v1/conversations/{chat['id']}", headers=auth(key)).json()["data"]
    assert [m["sender"] for m in detail["timeline"]["messages"]] == ["customer", "api"]
    logs = client.get("/v1/analytics/messages", params={"recipient": user_id}, headers=auth(key))
    assert [log["recipient_user_id"] for log in logs.json()["data"]["logs"]] == [user_id]

    meta_webhook(client, boot, user_id, phone=phone)
    consumer.wait_for("/by-bsuid", 2)
    [same] = wait_for(lambda: [c for c in conversations(client, key, phone) if c["id"] == chat["id"]])
    assert (same["customer_phone"], same["customer_user_id"]) == (phone, user_id)
    assert [c["id"] for c in conversations(client, key, user_id)] == [chat["id"]]
    assert consumer.at("/by-number") == []
    answer = client.post(f"/v1/conversations/{chat['id']}/messages", json={"text": "Siap"}, headers=auth(key))
    assert answer.status_code == 201, answer.text
    by_phone = client.get("/v1/analytics/messages", params={"recipient": phone}, headers=auth(key))
    assert {log["recipient"] for log in by_phone.json()["data"]["logs"]} == {"", phone}


@pytest.mark.parametrize("customer", ["us.123", "US.", "U" * 300, "abc"])
def test_the_customer_filter_refuses_what_is_neither(
    server: Server, client: httpx.Client, customer: str
) -> None:
    boot = server.bootstrap()
    response = client.get("/v1/conversations", params={"customer": customer}, headers=auth(boot["api_key"]))
    assert response.status_code == 400, response.text
    assert "customer" in response.json()["errors"]
