"""One customer, whichever identifiers Meta shows: conversations, contacts, logs and the window.

A customer who writes by username comes with a business-scoped user id (BSUID) and no phone
number; the same customer may later share the number. Events are applied here as the inbound
processor applies them (``apply_events`` over ``normalize``), on a real database.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from kirem.analytics.messages import query_message_logs
from kirem.api.responses import ApiError
from kirem.conversations.inbound import apply_events
from kirem.conversations.models import ChannelContact, Conversation
from kirem.conversations.service import (
    address_of,
    conversation_for,
    conversation_view,
    list_contacts,
    list_conversations,
    timeline,
    window_open,
)
from kirem.crypto import Sealer
from kirem.customers import CustomerIds
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.inbound.normalize import normalize
from kirem.kit.params import Window
from kirem.messaging.models import MessageLog
from kirem.tenancy import service
from kirem.tenancy.models import Channel

BSUID = "US.13491208655302741918"
PARENT = "US.ENT.11815799212886844830"
PHONE = "16505551234"
BUSINESS = "15550783881"


async def _channel(database: Database, settings: Any) -> Channel:
    async with database.transaction() as session:
        account = await service.create_account(session, "ids-co", "growth")
        project = await service.create_project(session, Sealer.from_settings(settings), account, "main")
        return await service.add_channel(
            session,
            Sealer.from_settings(settings),
            project,
            kind="live",
            phone_number_id="7001",
            waba_id="7002",
            access_token="t",
            display_phone_number=BUSINESS,
        )


def _envelope(field: str, value: dict[str, Any]) -> dict[str, Any]:
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": BUSINESS, "phone_number_id": "7001"},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "7002", "changes": [{"value": value, "field": field}]}],
    }


def _message(wamid: str, *, phone: str | None, user_id: str | None, at: int = 0) -> dict[str, Any]:
    message: dict[str, Any] = {"id": wamid, "type": "text", "text": {"body": wamid}}
    message["timestamp"] = str(int((utcnow() - timedelta(minutes=5)).timestamp()) + at)
    contact: dict[str, Any] = {"profile": {"name": "Sheena", "username": "@sheena"}}
    if phone:
        message["from"] = contact["wa_id"] = phone
    if user_id:
        message["from_user_id"] = contact["user_id"] = user_id
        contact["parent_user_id"] = PARENT
    return _envelope("messages", {"contacts": [contact], "messages": [message]})


async def _apply(database: Database, channel: Channel, envelope: dict[str, Any]) -> list[dict[str, Any]]:
    events = normalize(orjson.dumps(envelope), envelope)
    async with database.transaction() as session:
        await apply_events(session, [(channel, event) for event in events], 600)
    return [event.data for event in events]


async def _conversations(database: Database, channel: Channel) -> list[Conversation]:
    async with database.transaction() as session:
        stmt = select(Conversation).where(Conversation.channel_id == channel.id)
        return list((await session.execute(stmt.order_by(Conversation.created_at))).scalars())


async def test_a_username_only_customer_opens_a_conversation(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)
    [data] = await _apply(database, channel, _message("wamid.1", phone=None, user_id=BSUID))
    [chat] = await _conversations(database, channel)
    assert data["conversation_id"] == chat.id
    view = conversation_view(chat)
    assert view["customer_phone"] is None and view["customer_user_id"] == BSUID
    assert view["customer_username"] == "@sheena" and view["customer_parent_user_id"] == PARENT
    assert view["customer_name"] == "Sheena" and window_open(chat)
    assert address_of(chat) == {"recipient": BSUID}
    async with database.transaction() as session:
        _, [log] = await timeline(session, channel.project_id, chat, limit=10, offset=0)
        assert (log.sender, log.recipient, log.direction) == (BSUID, BUSINESS, "inbound")


async def test_the_same_customer_later_sharing_the_number_stays_one_conversation(
    database: Database, settings: Any
) -> None:
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=None, user_id=BSUID))
    [data] = await _apply(database, channel, _message("wamid.2", phone=PHONE, user_id=BSUID, at=1))
    [chat] = await _conversations(database, channel)
    assert data["conversation_id"] == chat.id
    assert (chat.customer_wa_id, chat.customer_user_id) == (PHONE, BSUID)
    assert address_of(chat) == {"to": PHONE}
    await _apply(database, channel, _message("wamid.3", phone=PHONE, user_id=None, at=2))
    [again] = await _conversations(database, channel)
    assert again.id == chat.id


async def test_a_customer_known_by_phone_learns_the_bsuid(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=PHONE, user_id=None))
    [before] = await _conversations(database, channel)
    assert before.customer_user_id is None
    await _apply(database, channel, _message("wamid.2", phone=PHONE, user_id=BSUID, at=1))
    await _apply(database, channel, _message("wamid.3", phone=None, user_id=BSUID, at=2))
    [after] = await _conversations(database, channel)
    assert after.id == before.id and after.customer_user_id == BSUID
    async with database.transaction() as session:
        total, _ = await timeline(session, channel.project_id, after, limit=10, offset=0)
        assert total == 3


async def test_two_conversations_of_one_customer_become_one(database: Database, settings: Any) -> None:
    """Seen once by number and once by BSUID only, then both together: one timeline, one window."""
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=PHONE, user_id=None))
    await _apply(database, channel, _message("wamid.2", phone=None, user_id=BSUID, at=1))
    first, second = await _conversations(database, channel)
    assert first.id != second.id
    [data] = await _apply(database, channel, _message("wamid.3", phone=PHONE, user_id=BSUID, at=2))
    [chat] = await _conversations(database, channel)
    assert chat.id == first.id == data["conversation_id"]
    assert (chat.customer_wa_id, chat.customer_user_id, chat.customer_username) == (PHONE, BSUID, "@sheena")
    async with database.transaction() as session:
        total, logs = await timeline(session, channel.project_id, chat, limit=10, offset=0)
        assert total == 3 and {log.message_id for log in logs} == {"wamid.1", "wamid.2", "wamid.3"}


async def test_a_merge_in_the_middle_of_a_batch_keeps_its_earlier_messages(
    database: Database, settings: Any
) -> None:
    """By number, by BSUID, then both, in one batch: the entries written before the merge join it."""
    channel = await _channel(database, settings)
    envelopes = [
        _message("wamid.1", phone=PHONE, user_id=None),
        _message("wamid.2", phone=None, user_id=BSUID, at=1),
        _message("wamid.3", phone=PHONE, user_id=BSUID, at=2),
    ]
    events = [event for envelope in envelopes for event in normalize(orjson.dumps(envelope), envelope)]
    async with database.transaction() as session:
        await apply_events(session, [(channel, event) for event in events], 600)
    [chat] = await _conversations(database, channel)
    async with database.transaction() as session:
        total, logs = await timeline(session, channel.project_id, chat, limit=10, offset=0)
        assert total == 3 and [log.message_id for log in logs] == ["wamid.1", "wamid.2", "wamid.3"]


STATUS = {"id": "wamid.out", "status": "delivered", "timestamp": "1749416383"}


async def test_a_status_attaches_the_bsuid_to_a_known_customer(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=PHONE, user_id=None))
    status = {**STATUS, "recipient_id": PHONE, "recipient_user_id": BSUID}
    contacts = [{"wa_id": PHONE, "user_id": BSUID, "profile": {"username": "@sheena"}}]
    await _apply(database, channel, _envelope("messages", {"contacts": contacts, "statuses": [status]}))
    [chat] = await _conversations(database, channel)
    assert chat.customer_user_id == BSUID and chat.customer_username == "@sheena"


async def test_a_status_of_an_unknown_customer_opens_nothing(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)
    await _apply(
        database, channel, _envelope("messages", {"statuses": [{**STATUS, "recipient_user_id": BSUID}]})
    )
    assert await _conversations(database, channel) == []


@pytest.mark.parametrize("phone", [PHONE, None], ids=["with-to", "without-to"])
async def test_an_echo_without_a_phone_joins_the_customers_conversation(
    database: Database, settings: Any, phone: str | None
) -> None:
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=None, user_id=BSUID))
    echo: dict[str, Any] = {
        "from": BUSINESS,
        "to_user_id": BSUID,
        "id": "wamid.echo",
        "timestamp": "1749416383",
    }
    echo.update(type="text", text={"body": "On our way"})
    if phone:
        echo["to"] = phone
    [data] = await _apply(database, channel, _envelope("smb_message_echoes", {"message_echoes": [echo]}))
    [chat] = await _conversations(database, channel)
    assert data["conversation_id"] == chat.id and chat.human_active_until is not None
    assert chat.customer_wa_id == phone
    async with database.transaction() as session:
        _, logs = await timeline(session, channel.project_id, chat, limit=10, offset=0)
        echoed = [(log.recipient, log.recipient_user_id) for log in logs if log.author == "business_app"]
        assert echoed == [(phone or "", BSUID)]


async def test_history_threads_named_by_bsuid_are_imported(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)
    messages = [
        {
            "from_user_id": BSUID,
            "id": "wamid.h1",
            "timestamp": "1700000000",
            "type": "text",
            "text": {"body": "hi"},
        },
        {
            "from": BUSINESS,
            "id": "wamid.h2",
            "timestamp": "1700000060",
            "type": "text",
            "text": {"body": "hello"},
        },
    ]
    value = {"history": [{"metadata": {"phase": 0}, "threads": [{"id": BSUID, "messages": messages}]}]}
    await _apply(database, channel, _envelope("history", value))
    [chat] = await _conversations(database, channel)
    assert (chat.customer_wa_id, chat.customer_user_id) == (None, BSUID)
    async with database.transaction() as session:
        _, logs = await timeline(session, channel.project_id, chat, limit=10, offset=0)
        assert [(log.author, log.sender) for log in logs] == [("customer", BSUID), ("business_app", BUSINESS)]


async def test_contacts_sync_keeps_contacts_known_by_bsuid(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)

    def sync(contact: dict[str, Any], action: str = "add") -> dict[str, Any]:
        item = {"type": "contact", "contact": contact, "action": action, "metadata": {"timestamp": "1"}}
        return _envelope("smb_app_state_sync", {"state_sync": [item]})

    await _apply(database, channel, sync({"full_name": "Sheena N", "first_name": "Sheena", "user_id": BSUID}))
    await _apply(
        database, channel, sync({"full_name": "Sheena Nelson", "phone_number": PHONE, "user_id": BSUID})
    )
    async with database.transaction() as session:
        total, [contact] = await list_contacts(
            session, channel.project_id, channel_id=None, limit=10, offset=0
        )
        assert total == 1
        assert (contact.wa_id, contact.user_id, contact.full_name) == (PHONE, BSUID, "Sheena Nelson")
    await _apply(database, channel, sync({"user_id": BSUID}, "remove"))
    async with database.transaction() as session:
        assert list((await session.execute(select(ChannelContact))).scalars()) == []


async def test_the_customer_filter_takes_a_phone_or_a_bsuid(database: Database, settings: Any) -> None:
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=PHONE, user_id=BSUID))
    await _apply(database, channel, _message("wamid.2", phone=None, user_id="US.999"))
    async with database.transaction() as session:
        for customer in (BSUID, "+1 650-555-1234"):
            total, [chat] = await list_conversations(
                session, channel.project_id, status=None, limit=10, offset=0, customer=customer
            )
            assert total == 1 and chat.customer_user_id == BSUID
        with pytest.raises(ApiError) as refused:
            await list_conversations(
                session, channel.project_id, status=None, limit=10, offset=0, customer="us.x"
            )
        assert "customer" in refused.value.errors


async def test_the_recipient_filter_finds_a_customer_by_either_identifier(
    database: Database, settings: Any
) -> None:
    channel = await _channel(database, settings)
    await _apply(database, channel, _message("wamid.1", phone=PHONE, user_id=BSUID))
    [chat] = await _conversations(database, channel)
    async with database.transaction() as session:
        for phone, user_id, wamid in ((PHONE, None, "wamid.o1"), ("", BSUID, "wamid.o2")):
            session.add(
                MessageLog(
                    project_id=channel.project_id,
                    channel_id=channel.id,
                    conversation_id=chat.id,
                    message_id=wamid,
                    recipient=phone,
                    recipient_user_id=user_id,
                    sender=BUSINESS,
                    direction="outbound",
                    type="text",
                    status="accepted",
                )
            )
    window = Window(since=None, until=None, limit=10, offset=0)
    async with database.transaction() as session:
        for value in (BSUID, PHONE):
            found = await query_message_logs(session, channel.project_id, window, {"recipient": value})
            assert {log["message_id"] for log in found["logs"]} == {"wamid.o1", "wamid.o2"}, value


async def test_concurrent_first_contacts_by_bsuid_make_one_conversation(
    database: Database, settings: Any
) -> None:
    channel = await _channel(database, settings)

    async def touch(ids: CustomerIds) -> str:
        async with database.transaction() as session:
            return (await conversation_for(session, channel, ids)).id

    both = CustomerIds(phone=PHONE, user_id=BSUID)
    found = await asyncio.gather(*(touch(CustomerIds(user_id=BSUID) if n % 2 else both) for n in range(8)))
    assert len(set(found)) == 1
    [chat] = await _conversations(database, channel)
    assert (chat.customer_wa_id, chat.customer_user_id) == (PHONE, BSUID)
