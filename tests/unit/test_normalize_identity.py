"""Customers' identifiers in Kirem events: phone numbers, BSUIDs and usernames, with or without a phone.

Meta's OpenAPI examples predate business-scoped user ids; each one is read here as Meta sends it
today: every customer carries ``user_id`` (``from_user_id`` on the message), and a customer with a
username may come with no ``from`` and no ``wa_id`` at all.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from kirem.customers import CustomerIds
from kirem.inbound.normalize import NormalizedEvent, normalize
from tests.fixtures import meta_examples

BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"
USERNAME = "@sheena"
PHONE = "16505551234"
WABA = "419561257915477"
METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}


def run(envelope: dict[str, Any]) -> list[NormalizedEvent]:
    return normalize(orjson.dumps(envelope), envelope)


def envelope(field: str, value: dict[str, Any]) -> dict[str, Any]:
    value = {"messaging_product": "whatsapp", "metadata": METADATA, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"value": value, "field": field}]}],
    }


def with_bsuid(example: dict[str, Any], *, phone: bool) -> dict[str, Any]:
    """Meta's example as sent today: BSUIDs and a username added; with ``phone=False`` no number at all."""
    example = copy.deepcopy(example)
    value = example["entry"][0]["changes"][0]["value"]
    for message in value.get("messages", []):
        message["from_user_id"] = BSUID
        if not phone:
            message.pop("from", None)
    for contact in value.get("contacts", []):
        contact["user_id"] = BSUID
        contact["parent_user_id"] = PARENT
        contact.setdefault("profile", {})["username"] = USERNAME
        if not phone:
            contact.pop("wa_id", None)
    return example


def has_contacts(example: dict[str, Any]) -> bool:
    return bool(example["entry"][0]["changes"][0]["value"].get("contacts"))


MESSAGE_EXAMPLES = [
    name
    for name, example in meta_examples()["webhook"].items()
    if example["entry"][0]["changes"][0]["value"].get("messages")
]


def test_every_message_example_of_meta_is_covered() -> None:
    assert len(MESSAGE_EXAMPLES) == 13


@pytest.mark.parametrize("name", MESSAGE_EXAMPLES)
def test_a_username_only_customer_is_received_with_its_bsuid(name: str) -> None:
    example = meta_examples()["webhook"][name]
    plain = run(example)
    events = run(with_bsuid(example, phone=False))
    assert [e.type for e in events] == ["messages.received"] * len(plain)
    for event, before in zip(events, plain, strict=True):
        assert event.dedup_key == before.dedup_key and event.message_type == before.message_type
        assert event.data["from"] is None
        if has_contacts(example):
            parent, username = PARENT, USERNAME
            assert event.data["contact"]["user_id"] == BSUID
        else:  # system messages come without a contacts entry
            parent = username = None
        assert (event.data["user_id"], event.data["parent_user_id"], event.data["username"]) == (
            BSUID,
            parent,
            username,
        )
        assert event.sender is None
        assert event.customer == CustomerIds(user_id=BSUID, parent_user_id=parent, username=username)
        narrowed = orjson.loads(event.meta_body)["entry"][0]["changes"][0]["value"]
        assert narrowed["messages"][0]["from_user_id"] == BSUID


@pytest.mark.parametrize("name", MESSAGE_EXAMPLES)
def test_a_customer_with_a_phone_keeps_it_next_to_the_bsuid(name: str) -> None:
    example = meta_examples()["webhook"][name]
    sender = example["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    event = run(with_bsuid(example, phone=True))[0]
    assert event.data["from"] == sender and event.sender == sender
    assert event.data["user_id"] == BSUID
    assert event.data["username"] == (USERNAME if has_contacts(example) else None)
    assert event.customer.phone == sender and event.customer.user_id == BSUID


@pytest.mark.parametrize("name", MESSAGE_EXAMPLES)
def test_examples_without_bsuids_expose_empty_identity_keys(name: str) -> None:
    event = run(meta_examples()["webhook"][name])[0]
    assert event.data["user_id"] is None and event.data["parent_user_id"] is None
    assert event.data["username"] is None
    assert event.customer.user_id is None and event.customer.phone == event.sender


def test_the_phone_of_the_contacts_entry_stands_in_for_a_missing_from() -> None:
    message = {
        "id": "wamid.1",
        "timestamp": "1",
        "type": "text",
        "text": {"body": "hi"},
        "from_user_id": BSUID,
    }
    contacts = [
        {"profile": {"name": "A"}, "wa_id": "111", "user_id": "US.999"},
        {"wa_id": PHONE, "user_id": BSUID},
    ]
    event = run(envelope("messages", {"contacts": contacts, "messages": [message]}))[0]
    assert event.data["from"] == PHONE and event.sender == PHONE
    assert event.data["contact"] == contacts[1]


def test_malformed_bsuids_are_not_taken_for_an_identity() -> None:
    message = {
        "id": "wamid.1",
        "timestamp": "1",
        "type": "text",
        "text": {"body": "hi"},
        "from_user_id": "nope",
    }
    event = run(envelope("messages", {"messages": [message]}))[0]
    assert event.customer == CustomerIds() and event.data["user_id"] is None


STATUS = {"id": "wamid.out", "status": "delivered", "timestamp": "1749416383"}


@pytest.mark.parametrize("phone", [True, False], ids=["with-recipient_id", "without-recipient_id"])
def test_statuses_carry_the_recipients_bsuid_and_contact(phone: bool) -> None:
    status = {**STATUS, "recipient_user_id": BSUID, "recipient_parent_user_id": PARENT}
    contact: dict[str, Any] = {"profile": {"username": USERNAME}, "user_id": BSUID, "parent_user_id": PARENT}
    if phone:
        status["recipient_id"] = PHONE
        contact["wa_id"] = PHONE
    event = run(envelope("messages", {"contacts": [contact], "statuses": [status]}))[0]
    assert event.type == "messages.status" and event.dedup_key == "status:wamid.out:delivered"
    assert event.data["recipient_id"] == (PHONE if phone else None)
    assert event.data["recipient_user_id"] == BSUID
    assert event.data["recipient_parent_user_id"] == PARENT
    assert event.data["username"] == USERNAME
    assert event.sender == (PHONE if phone else None)
    assert event.customer.user_id == BSUID
    narrowed = orjson.loads(event.meta_body)["entry"][0]["changes"][0]["value"]
    assert narrowed["contacts"] == [contact]


def test_a_status_of_a_send_to_a_bsuid_without_contacts() -> None:
    event = run(
        envelope("messages", {"statuses": [{**STATUS, "status": "sent", "recipient_user_id": BSUID}]})
    )[0]
    assert event.data["recipient_id"] is None and event.data["recipient_user_id"] == BSUID
    assert event.data["username"] is None


def test_statuses_of_two_customers_keep_their_own_contact() -> None:
    contacts = [{"wa_id": "111", "user_id": "US.111"}, {"user_id": BSUID, "profile": {"username": USERNAME}}]
    statuses = [
        {**STATUS, "id": "w1", "recipient_id": "111"},
        {**STATUS, "id": "w2", "recipient_user_id": BSUID},
    ]
    first, second = run(envelope("messages", {"contacts": contacts, "statuses": statuses}))
    assert first.data["recipient_user_id"] == "US.111" and first.data["username"] is None
    assert second.data["username"] == USERNAME and second.customer.phone is None
    assert orjson.loads(second.meta_body)["entry"][0]["changes"][0]["value"]["contacts"] == [contacts[1]]


@pytest.mark.parametrize("phone", [True, False], ids=["with-to", "without-to"])
def test_echoes_carry_the_customers_bsuid(phone: bool) -> None:
    echo = {
        "from": "15550783881",
        "to_user_id": BSUID,
        "id": "wamid.echo",
        "timestamp": "1749416383",
        "type": "text",
        "text": {"body": "On our way"},
    }
    if phone:
        echo["to"] = PHONE
    event = run(envelope("smb_message_echoes", {"message_echoes": [echo]}))[0]
    assert event.type == "messages.echo" and event.dedup_key == "echo:wamid.echo"
    assert event.data.get("to") == (PHONE if phone else None)
    assert event.data["to_user_id"] == BSUID and event.data["user_id"] == BSUID
    assert event.sender == (PHONE if phone else None)
    assert event.customer.user_id == BSUID


HISTORY = {
    "history": [
        {
            "metadata": {"phase": 0, "chunk_order": 1, "progress": 100},
            "threads": [
                {
                    "id": BSUID,
                    "context": {"wa_id": None, "user_id": BSUID},
                    "messages": [
                        {
                            "from_user_id": BSUID,
                            "id": "wamid.h1",
                            "timestamp": "1749416383",
                            "type": "text",
                            "text": {"body": "hello"},
                            "history_context": {"status": "READ"},
                        }
                    ],
                }
            ],
        }
    ]
}


def test_history_keeps_the_user_ids_of_its_threads() -> None:
    event = run(envelope("history", copy.deepcopy(HISTORY)))[0]
    assert event.type == "history.sync"
    thread = event.data["history"][0]["threads"][0]
    assert thread["id"] == BSUID and thread["messages"][0]["from_user_id"] == BSUID


@pytest.mark.parametrize("phone", [True, False], ids=["with-phone_number", "without-phone_number"])
def test_contact_sync_keeps_user_ids(phone: bool) -> None:
    contact = {"full_name": "Sheena Nelson", "first_name": "Sheena", "user_id": BSUID, "username": USERNAME}
    if phone:
        contact["phone_number"] = PHONE
    value = {
        "state_sync": [
            {"type": "contact", "contact": contact, "action": "add", "metadata": {"timestamp": "1"}}
        ]
    }
    event = run(envelope("smb_app_state_sync", value))[0]
    assert event.type == "contacts.sync"
    assert event.data["state_sync"][0]["contact"] == contact
