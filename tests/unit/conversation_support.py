"""Seeding a customer's message as the inbound processor records it, for tests that read it back."""

from __future__ import annotations

from datetime import datetime

from kirem.conversations import service as conversations
from kirem.customers import identifier
from kirem.db.base import new_uuid
from kirem.db.engine import Database
from kirem.messaging.models import MessageLog
from kirem.tenancy.models import Channel


async def customer_writes(database: Database, channel_id: str, customer: str, text: str, at: datetime) -> str:
    """The conversation (its id) of ``customer`` on the channel, with their text message logged ``at``."""
    async with database.transaction() as session:
        channel = await session.get(Channel, channel_id)
        assert channel is not None
        chat = await conversations.customer_wrote(session, channel, customer, "Budi", at)
        message = {"id": f"wamid.{new_uuid()}", "type": "text", "text": {"body": text}}
        row = conversations.message_row(
            channel,
            chat.id,
            message,
            direction="inbound",
            author="customer",
            status="received",
            occurred_at=at,
            customer=identifier(customer),
        )
        session.add(MessageLog(**row))
        return str(chat.id)
