"""Conversation bookkeeping on a real database: races, reopening, the window."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from kirem.conversations.service import conversation_for, customer_wrote, window_open
from kirem.crypto import Sealer
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.tenancy import service
from kirem.tenancy.models import Channel


async def _channel(database: Database, sealer: Sealer) -> Channel:
    async with database.transaction() as session:
        account = await service.create_account(session, "conv-co", "growth")
        project = await service.create_project(session, sealer, account, "main")
        return await service.add_channel(
            session, sealer, project, kind="live", phone_number_id="7001", waba_id="7002", access_token="t"
        )


async def test_concurrent_first_contacts_make_one_conversation(database: Database, settings) -> None:
    """Regression: a send and an inbound message for a new customer raced into a unique violation (500)."""
    channel = await _channel(database, Sealer.from_settings(settings))

    async def touch() -> str:
        async with database.transaction() as session:
            return (await conversation_for(session, channel, "+62 812-0000")).id

    ids = await asyncio.gather(*(touch() for _ in range(8)))
    assert len(set(ids)) == 1


async def test_customer_message_reopens_and_refreshes_the_window(database: Database, settings) -> None:
    channel = await _channel(database, Sealer.from_settings(settings))
    old = utcnow() - timedelta(hours=30)
    async with database.transaction() as session:
        conversation = await customer_wrote(session, channel, "628123", "Budi", old)
        assert not window_open(conversation)
        conversation.status = "resolved"
    async with database.transaction() as session:
        conversation = await customer_wrote(session, channel, "628123", "", utcnow())
        assert conversation.status == "open" and window_open(conversation)
        assert conversation.customer_name == "Budi"
        earlier = await customer_wrote(session, channel, "628123", "", old)
        assert window_open(earlier)  # an older (history) message never moves the window back
