"""Coexistence through the real server and the sandbox playing the owner's phone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_conversations import conversation, conversations
from tests.e2e.test_routing import add_target, inbound

CUSTOMER = "62813334444"


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def simulate(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/sandbox/v1/{path}", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_an_echo_from_the_phone_joins_the_timeline_fires_an_event_and_starts_a_handover(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(client, key, consumer.endpoint("/echoes"), events=["messages.echo"])
    inbound(client, boot, {"type": "text", "text": {"body": "Halo, masih buka?"}}, sender=CUSTOMER)
    [chat] = wait_for(lambda: conversations(client, key)["conversations"])
    echo = {
        "phone_number_id": boot["phone_number_id"],
        "to": CUSTOMER,
        "message": {"type": "text", "text": {"body": "Masih kak, sampai jam 9"}},
    }
    wamid = simulate(client, "echo", echo)["wamid"]

    [event] = consumer.wait_for("/echoes", 1)
    data = event.json()["data"]
    assert (
        event.json()["event"] == "messages.echo"
        and data["message_id"] == wamid
        and data["conversation_id"] == chat["id"]
    )
    view = conversation(client, key, chat["id"])
    assert [(m["sender"], m["text"]) for m in view["timeline"]["messages"]] == [
        ("customer", "Halo, masih buka?"),
        ("business_app", "Masih kak, sampai jam 9"),
    ]
    assert view["human_active_until"] is not None


def test_history_chunks_out_of_order_and_repeated_are_imported_once_in_order(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(client, key, consumer.endpoint("/history"), events=["history.sync"])
    number = boot["phone_number_id"]

    def chunk(order: int, messages: list[tuple[str, str, int]]) -> dict[str, Any]:
        return {
            "phone_number_id": number,
            "phase": 0,
            "chunk_order": order,
            "progress": 50 * order,
            "threads": [
                {
                    "id": CUSTOMER,
                    "messages": [
                        {"id": f"wamid.HIST{order}{i}", "from": who, "text": text, "timestamp": str(ts)}
                        for i, (who, text, ts) in enumerate(messages)
                    ],
                }
            ],
        }

    first = chunk(
        1, [("customer", "pesan lama 1", 1_700_000_000), ("business", "balasan lama 1", 1_700_000_060)]
    )
    second = chunk(
        2, [("customer", "pesan lama 2", 1_700_000_120), ("business", "balasan lama 2", 1_700_000_180)]
    )
    simulate(client, "history", second)
    simulate(client, "history", first)
    simulate(client, "history", second)
    assert len(consumer.wait_for("/history", 2)) >= 2

    def imported() -> list[dict[str, Any]] | None:
        listing = conversations(client, key)["conversations"]
        if not listing:
            return None
        messages = conversation(client, key, listing[0]["id"])["timeline"]["messages"]
        return messages if len(messages) >= 4 else None

    messages = wait_for(imported)
    assert [(m["sender"], m["text"]) for m in messages] == [
        ("customer", "pesan lama 1"),
        ("business_app", "balasan lama 1"),
        ("customer", "pesan lama 2"),
        ("business_app", "balasan lama 2"),
    ]
    received = [r.json() for r in consumer.at("/history")]
    assert all(r["event"] == "history.sync" for r in received)
    assert len({r["id"] for r in received}) == len(received) == 2  # the repeated chunk is recognised


def test_contact_sync_keeps_a_contact_list(server: Server, client: httpx.Client, consumer: Consumer) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(client, key, consumer.endpoint("/contacts"), events=["contacts.sync"])
    number = boot["phone_number_id"]
    simulate(
        client,
        "contacts",
        {
            "phone_number_id": number,
            "contacts": [
                {"phone_number": "628111", "full_name": "Siti Aminah"},
                {"phone_number": "628222", "full_name": "Joko"},
            ],
        },
    )
    simulate(
        client,
        "contacts",
        {"phone_number_id": number, "contacts": [{"phone_number": "628222", "action": "remove"}]},
    )
    assert len(consumer.wait_for("/contacts", 2)) == 2

    def listed() -> list[dict[str, Any]] | None:
        contacts = client.get("/v1/contacts", headers=auth(key)).json()["data"]["contacts"]
        return contacts if len(contacts) == 1 else None

    [contact] = wait_for(listed)
    assert (
        contact["wa_id"] == "628111"
        and contact["full_name"] == "Siti Aminah"
        and contact["first_name"] == "Siti"
    )
