"""One bad item of a Meta webhook never costs the others: each message is processed on its own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kirem.meta.signatures import sign
from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server

META_APP_SECRET = "meta-app-secret-e2e"


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def envelope(boot: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": boot["phone_number_id"]},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": m["from"]} for m in messages],
        "messages": messages,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": boot["waba_id"], "changes": [{"field": "messages", "value": value}]}],
    }


def text(wamid: str, body: str, sender: str = "6281100000001") -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": "1767225600", "type": "text", "text": {"body": body}}


def post_signed(server: Server, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    headers = {"X-Hub-Signature-256": sign(META_APP_SECRET, raw), "Content-Type": "application/json"}
    response = httpx.post(f"{server.url}/webhooks/meta", content=raw, headers=headers, timeout=30)
    assert response.status_code == 200, response.text


def events_of(client: httpx.Client, key: str) -> list[dict[str, Any]]:
    response = client.get("/v1/events", params={"limit": 100}, headers=auth(key))
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["events"])


@pytest.mark.parametrize(
    "bad",
    [
        {"text": {"body": "nul \u0000 inside"}},
        {"type": {"object": "instead of a string"}, "text": {"body": "odd type"}},
    ],
    ids=["nul-byte", "object-type"],
)
def test_a_bad_middle_message_costs_neither_of_its_neighbours(
    server: Server, client: httpx.Client, consumer: Consumer, bad: dict[str, Any]
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    target = {"url": consumer.endpoint("/isolated"), "events": ["messages.received"]}
    assert client.post("/v1/webhooks/targets", json=target, headers=auth(key)).status_code == 201
    middle = {**text("wamid.iso.2", "middle", sender="6281100000002"), **bad}
    messages = [text("wamid.iso.1", "first"), middle, text("wamid.iso.3", "third", sender="6281100000003")]
    post_signed(server, envelope(boot, messages))

    def delivered() -> set[str]:
        return {r.json()["data"]["message_id"] for r in consumer.at("/isolated")}

    assert wait_for(lambda: {"wamid.iso.1", "wamid.iso.3"} <= delivered(), timeout=20)
    events = wait_for(lambda: (found := events_of(client, key)) and len(found) >= 3 and found)
    by_id = {e["data"]["message_id"]: e for e in events}
    assert set(by_id) == {"wamid.iso.1", "wamid.iso.2", "wamid.iso.3"}  # nothing lost, the bad one kept
    assert by_id["wamid.iso.1"]["data"]["text"] == {"body": "first"}

    # Meta redelivers the whole envelope: every item is recognised, nothing is doubled
    post_signed(server, envelope(boot, messages))
    post_signed(server, envelope(boot, [text("wamid.iso.4", "after")]))
    wait_for(lambda: len(events_of(client, key)) >= 4)
    assert sorted(e["data"]["message_id"] for e in events_of(client, key)) == [
        "wamid.iso.1",
        "wamid.iso.2",
        "wamid.iso.3",
        "wamid.iso.4",
    ]
    conversations = client.get("/v1/conversations", headers=auth(key)).json()["data"]
    assert {c["customer_phone"] for c in conversations["conversations"]} >= {"6281100000001", "6281100000003"}
