"""The send path's group-committed writes: quota exact per batch, refused sends leave no log."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from kirem.api.responses import ApiError
from kirem.conversations.service import joined_conversation
from kirem.crypto import Sealer
from kirem.customers import customer_ids
from kirem.db.base import new_id
from kirem.db.engine import Database
from kirem.messaging.ledger import Acceptance, SendLedger
from kirem.messaging.models import MessageLog, PendingStatus
from kirem.tenancy import service
from kirem.tenancy.models import DailyUsage


@pytest.fixture
def sealer(settings) -> Sealer:
    return Sealer.from_settings(settings)


async def _tenant_and_channel(database: Database, sealer: Sealer):
    async with database.transaction() as session:
        account = await service.create_account(session, "acme", "developer")  # 20 a day
        project = await service.create_project(session, sealer, account, "main")
        _, secret = await service.mint_api_key(session, project)
        await service.add_channel(
            session, sealer, project, kind="live", phone_number_id="1001", waba_id="2001",
            access_token="EAAtoken", display_phone_number="",
        )  # fmt: skip
    async with database.session() as session:
        tenant = await service.tenant_for_key(session, secret)
        channel = await service.resolve_channel(session, tenant)
    return tenant, channel


def _row(tenant, channel, to: str) -> dict:
    return {
        "id": new_id("msg"),
        "project_id": tenant.project_id,
        "channel_id": channel.id,
        "recipient": to,
        "direction": "outbound",
        "type": "text",
        "status": "pending",
        "request": {"to": to, "type": "text", "text": {"body": "halo"}},
        "author": "api",
    }


async def test_concurrent_sends_at_the_quota_edge_admit_exactly_what_is_left(
    database: Database, sealer: Sealer
) -> None:
    tenant, channel = await _tenant_and_channel(database, sealer)
    async with database.transaction() as session:
        for _ in range(5):
            await service.consume_outbound_quota(session, tenant)
    ledger = SendLedger(database, joined_conversation)

    async def send(index: int) -> bool:
        try:
            await ledger.open(tenant, _row(tenant, channel, f"62811{index:06d}"))
        except ApiError as exc:
            assert exc.status == 429
            return False
        return True

    try:
        admitted = await asyncio.gather(*(send(i) for i in range(40)))
    finally:
        await ledger.aclose()
    assert admitted.count(True) == 15
    async with database.session() as session:
        logs = await session.scalar(select(func.count()).select_from(MessageLog))
        used = await session.scalar(
            select(DailyUsage.outbound_messages).where(DailyUsage.account_id == tenant.account.id)
        )
    assert (logs, used) == (15, 20)


async def test_accepted_sends_share_conversations_and_take_statuses_that_overtook_them(
    database: Database, sealer: Sealer
) -> None:
    tenant, channel = await _tenant_and_channel(database, sealer)
    ledger = SendLedger(database, joined_conversation)
    rows = [_row(tenant, channel, to) for to in ("6281100001", "6281100001", "6281100002")]
    async with database.transaction() as session:
        session.add(PendingStatus(message_id="wamid.2", status="delivered"))
    try:
        await asyncio.gather(*(ledger.open(tenant, row) for row in rows))
        await asyncio.gather(
            *(
                ledger.accept(
                    Acceptance(
                        project_id=tenant.project_id,
                        log_id=row["id"],
                        message_type="text",
                        channel=channel,
                        customer=customer_ids(phone=row["recipient"]),
                        message_id=f"wamid.{index}",
                    )
                )
                for index, row in enumerate(rows)
            )
        )
    finally:
        await ledger.aclose()
    async with database.session() as session:
        logs = {log.id: log for log in (await session.execute(select(MessageLog))).scalars()}
        parked = await session.scalar(select(func.count()).select_from(PendingStatus))
    first, second, third = (logs[row["id"]] for row in rows)
    assert [log.status for log in (first, second, third)] == ["accepted", "accepted", "delivered"]
    assert first.conversation_id is not None and first.conversation_id == second.conversation_id
    assert third.conversation_id not in (None, first.conversation_id)
    assert parked == 0
