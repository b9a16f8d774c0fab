"""Meta's statuses only move a message forward, even when two processes apply them at once."""

from __future__ import annotations

from kirem.crypto import Sealer
from kirem.db.engine import Database
from kirem.messaging.models import MessageLog
from kirem.messaging.statuses import StatusBook
from kirem.tenancy import service

WAMID = "wamid.STATUS-RACE"


async def _sent_message(database: Database, sealer: Sealer) -> str:
    async with database.transaction() as session:
        account = await service.create_account(session, "status-co", "growth")
        project = await service.create_project(session, sealer, account, "main")
        entry = MessageLog(
            project_id=project.id, message_id=WAMID, direction="outbound", type="text", status="sent"
        )
        session.add(entry)
        await session.flush()
        return entry.id


async def _status_of(database: Database, log_id: str) -> str:
    async with database.session() as session:
        entry = await session.get(MessageLog, log_id)
        assert entry is not None
        return entry.status


async def test_a_status_applied_late_never_moves_a_message_back(database: Database, settings) -> None:
    """Regression: two workers read the entry at ``sent``; the one applying ``read`` committed first,
    then the one applying ``delivered`` wrote its older status over it (the sandbox bench's sends
    stayed ``delivered`` forever with two workers)."""
    log_id = await _sent_message(database, Sealer.from_settings(settings))
    async with database.session() as slow:
        late = await StatusBook.load(slow, [WAMID])
        async with database.transaction() as fast:
            first = await StatusBook.load(fast, [WAMID])
            assert first.apply(WAMID, "read")
            await first.write()
        assert late.apply(WAMID, "delivered")
        await late.write()
        await slow.commit()
    assert await _status_of(database, log_id) == "read"


async def test_a_later_status_still_moves_a_message_forward(database: Database, settings) -> None:
    log_id = await _sent_message(database, Sealer.from_settings(settings))
    async with database.transaction() as session:
        book = await StatusBook.load(session, [WAMID])
        book.apply(WAMID, "delivered")
        book.apply(WAMID, "read")
        await book.write()
    assert await _status_of(database, log_id) == "read"
    async with database.transaction() as session:
        book = await StatusBook.load(session, [WAMID])
        book.apply(WAMID, "failed", 131047, "Re-engagement message")
        await book.write()
    assert await _status_of(database, log_id) == "failed"
