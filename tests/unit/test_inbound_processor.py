"""The processor applies each item of a webhook on its own: a database error costs only its own item."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.context import AppContext
from kirem.db.engine import Database
from kirem.delivery.enqueue import Fresh, Lease
from kirem.delivery.models import Delivery
from kirem.inbound.models import Event, RawEvent
from kirem.inbound.normalize import NormalizedEvent
from kirem.messaging.models import MessageLog
from kirem.pipeline import processor
from kirem.routing.models import WebhookTarget
from kirem.signals import DELIVERIES
from kirem.tenancy import service
from kirem.tenancy.models import Channel


@dataclass
class World:
    ctx: AppContext
    project_id: str


@pytest.fixture
async def world(database: Database, settings: Settings) -> AsyncIterator[World]:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "inbound-co", "growth")
        project = await service.create_project(session, ctx.sealer, account, "main")
        await service.add_channel(
            session,
            ctx.sealer,
            project,
            kind="live",
            phone_number_id="8001",
            waba_id="8002",
            access_token="t",
        )
        session.add(WebhookTarget(project_id=project.id, url="http://127.0.0.1:9/hook"))
    yield World(ctx, project.id)
    await ctx.aclose()


def webhook(*wamids: str) -> bytes:
    messages = [
        {"from": "6281100", "id": wamid, "timestamp": "1767225600", "type": "text", "text": {"body": wamid}}
        for wamid in wamids
    ]
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "8001"}, "messages": messages}
    entry = {"id": "8002", "changes": [{"field": "messages", "value": value}]}
    return orjson.dumps({"object": "whatsapp_business_account", "entry": [entry]})


async def store_raw(ctx: AppContext, body: bytes) -> int:
    async with ctx.db.transaction() as session:
        raw = RawEvent(source="meta", body=body)
        session.add(raw)
        await session.flush()
        return raw.id


async def count(ctx: AppContext, model: Any, *where: Any) -> int:
    async with ctx.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_database_error_in_one_item_keeps_it_marked_and_routes_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_apply = processor.apply_events

    async def apply_failing_on_bad(
        session: AsyncSession, items: list[tuple[Channel, NormalizedEvent]], handover: float
    ) -> None:
        await real_apply(session, items, handover)
        if any(event.data.get("message_id") == "wamid.bad" for _, event in items):
            await session.flush()  # its message log is written ...
            await session.execute(text("INSERT INTO events (id) VALUES ('evt_broken')"))  # ... then a refusal

    monkeypatch.setattr(processor, "apply_events", apply_failing_on_bad)
    ctx = world.ctx
    raw_id = await store_raw(ctx, webhook("wamid.good1", "wamid.bad", "wamid.good2"))
    assert await processor.process_pending(ctx) == 1

    async with ctx.db.session() as session:
        raw = await session.get(RawEvent, raw_id)
        assert raw is not None and raw.status == "processed"
        assert raw.error is not None and "msg:wamid.bad" in raw.error and "1 item(s) failed" in raw.error
        events = {e.dedup_key: e for e in (await session.execute(select(Event))).scalars()}
    assert set(events) == {"msg:wamid.good1", "msg:wamid.bad", "msg:wamid.good2"}
    assert events["msg:wamid.good1"].error is None and events["msg:wamid.good2"].error is None
    bad = events["msg:wamid.bad"]
    assert bad.error is not None and "null" in bad.error.lower()  # the database's own reason
    assert bad.data["text"] == {"body": "wamid.bad"} and bad.data["conversation_id"] is None
    assert await count(ctx, Delivery, Delivery.event_id == bad.id) == 0
    assert await count(ctx, Delivery) == 2
    assert await count(ctx, MessageLog, MessageLog.message_id == "wamid.bad") == 0  # its writes undone
    assert await count(ctx, MessageLog) == 2
    assert ctx.metrics.inbound_item_failures.labels("messages.received")._value.get() == 1

    # The raw webhook taken again once the cause is gone: the kept item is applied and routed,
    # the others are recognised and nothing is doubled
    async with ctx.db.transaction() as session:
        await session.execute(update(RawEvent).where(RawEvent.id == raw_id).values(status="pending"))
    monkeypatch.setattr(processor, "apply_events", real_apply)
    assert await processor.process_pending(ctx) == 1
    assert await count(ctx, Event) == 3 and await count(ctx, Event, Event.error.is_not(None)) == 0
    assert await count(ctx, Delivery) == 3 and await count(ctx, Delivery, Delivery.event_id == bad.id) == 1
    assert await count(ctx, MessageLog) == 3
    async with ctx.db.session() as session:
        raw = await session.get(RawEvent, raw_id)
        assert raw is not None and raw.status == "processed" and raw.error is None


async def test_a_passing_database_trouble_retries_the_whole_webhook_and_marks_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_apply = processor.apply_events
    trouble = OperationalError("UPDATE conversations", {}, Exception("database is locked"))

    async def locked_once(
        session: AsyncSession, items: list[tuple[Channel, NormalizedEvent]], handover: float
    ) -> None:
        if any(event.data.get("message_id") == "wamid.second" for _, event in items):
            raise trouble
        await real_apply(session, items, handover)

    monkeypatch.setattr(processor, "apply_events", locked_once)
    ctx = world.ctx
    raw_id = await store_raw(ctx, webhook("wamid.first", "wamid.second"))
    await processor.process_pending(ctx)
    async with ctx.db.session() as session:
        raw = await session.get(RawEvent, raw_id)
        assert raw is not None and raw.status == "pending" and raw.error is not None
    assert await count(ctx, Event) == 0 and await count(ctx, MessageLog) == 0
    assert ctx.metrics.inbound_item_failures.labels("messages.received")._value.get() == 0

    monkeypatch.setattr(processor, "apply_events", real_apply)
    async with ctx.db.transaction() as session:  # the lease is over: take it again
        await session.execute(update(RawEvent).where(RawEvent.id == raw_id).values(lease_expires_at=None))
    await processor.process_pending(ctx)
    assert await count(ctx, Event, Event.error.is_(None)) == 2 and await count(ctx, Delivery) == 2


async def test_nul_characters_and_absurd_ids_are_stored_not_failed(world: World) -> None:
    ctx = world.ctx
    long_id = "wamid." + "x" * 400
    body = webhook("wamid.nul", long_id).replace(b'"body":"wamid.nul"', b'"body":"a\\u0000b"')
    await store_raw(ctx, body)
    await processor.process_pending(ctx)
    async with ctx.db.session() as session:
        events = list((await session.execute(select(Event).order_by(Event.dedup_key))).scalars())
        logs = list((await session.execute(select(MessageLog).order_by(MessageLog.message_id))).scalars())
    assert [e.error for e in events] == [None, None]
    texts = {e.data["message_id"][:10]: e.data["text"]["body"] for e in events}
    assert texts["wamid.nul"] == "a\ufffdb"
    assert all(len(e.dedup_key) <= 300 for e in events)
    assert "a\ufffdb" in [log.text for log in logs]


@dataclass
class Taker:
    """A worker stand-in that takes handed-over rows, with room for ``room`` per target."""

    room: int
    taken: list[Fresh] = field(default_factory=list)

    def handoff_lease(self, now: datetime) -> Lease:
        return Lease("wrk_taker", now + timedelta(minutes=1), lambda _target_id: self.room)

    async def adopt(self, lease: Lease, leased: list[Fresh]) -> None:
        self.taken.extend(leased)


async def test_fresh_deliveries_are_handed_over_leased_as_far_as_the_worker_has_room(world: World) -> None:
    await store_raw(world.ctx, webhook("wamid.H1", "wamid.H2", "wamid.H3"))
    taker = Taker(room=2)
    assert await processor.process_pending(world.ctx, handoff=taker) == 1
    async with world.ctx.db.session() as session:
        rows = list((await session.execute(select(Delivery.id, Delivery.leased_by))).all())
    assert len(rows) == 3
    leased = {delivery_id for delivery_id, holder in rows if holder == "wrk_taker"}
    assert len(leased) == 2 and {fresh.delivery_id for fresh in taker.taken} == leased
    assert sum(holder is None for _, holder in rows) == 1  # left for a claim


async def test_fresh_deliveries_are_handed_over_with_the_bodies_written(world: World) -> None:
    await store_raw(world.ctx, webhook("wamid.B1", "wamid.B2"))
    taker = Taker(room=5)
    await processor.process_pending(world.ctx, handoff=taker)
    async with world.ctx.db.session() as session:
        stored = {
            row.id: (row.type, (row.kirem_body, row.meta_body))
            for row in await session.execute(select(Event.id, Event.type, Event.kirem_body, Event.meta_body))
        }
    assert len(taker.taken) == 2
    assert all((fresh.event_type, fresh.bodies) == stored[fresh.event_id] for fresh in taker.taken)


@pytest.mark.parametrize(("room", "woken"), [(3, []), (2, [DELIVERIES])])
async def test_the_worker_is_woken_only_for_rows_left_to_claim(
    world: World, monkeypatch: pytest.MonkeyPatch, room: int, woken: list[str]
) -> None:
    wakes: list[str] = []
    monkeypatch.setattr(world.ctx.signals, "wake", wakes.append)
    await store_raw(world.ctx, webhook("wamid.W1", "wamid.W2", "wamid.W3"))
    await processor.process_pending(world.ctx, handoff=Taker(room=room))
    assert wakes == woken


async def test_a_redelivered_webhook_hands_nothing_over(world: World) -> None:
    await store_raw(world.ctx, webhook("wamid.R1"))
    await processor.process_pending(world.ctx, handoff=Taker(room=5))
    await store_raw(world.ctx, webhook("wamid.R1"))
    again = Taker(room=5)
    await processor.process_pending(world.ctx, handoff=again)
    assert again.taken == [] and await count(world.ctx, Delivery) == 1


async def leases(ctx: AppContext) -> dict[int, tuple[str, int, bool]]:
    """Each raw event's status, attempts and whether it is leased."""
    async with ctx.db.session() as session:
        rows = await session.execute(
            select(RawEvent.id, RawEvent.status, RawEvent.attempts, RawEvent.lease_expires_at)
        )
        return {row.id: (row.status, row.attempts, row.lease_expires_at is not None) for row in rows}


async def test_a_batch_leases_the_next_one_in_its_own_transaction(world: World) -> None:
    ctx = world.ctx
    first = await store_raw(ctx, webhook("wamid.A1"))
    assert await processor.claim_pending(ctx) == [first]
    later = [await store_raw(ctx, webhook("wamid.A2")), await store_raw(ctx, webhook("wamid.A3"))]
    assert await processor.process_claimed(ctx, [first], ahead=10) == later
    assert await leases(ctx) == {first: ("processed", 1, False), **{i: ("pending", 1, True) for i in later}}
    assert await processor.process_claimed(ctx, later, ahead=10) == []
    assert await leases(ctx) == {i: ("processed", 1, False) for i in [first, *later]}
    assert await count(ctx, Delivery) == 3


async def test_a_batch_whose_transaction_fails_leases_nothing_ahead(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def locked(
        session: AsyncSession, items: list[tuple[Channel, NormalizedEvent]], handover: float
    ) -> None:
        raise OperationalError("UPDATE conversations", {}, Exception("database is locked"))

    monkeypatch.setattr(processor, "apply_events", locked)
    ctx = world.ctx
    first = await store_raw(ctx, webhook("wamid.F1"))
    assert await processor.claim_pending(ctx) == [first]
    later = await store_raw(ctx, webhook("wamid.F2"))
    assert await processor.process_claimed(ctx, [first], ahead=10) == []
    assert (await leases(ctx))[later] == ("pending", 0, False)


async def test_a_poison_webhook_leased_ahead_ends_invalid_after_its_attempts(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_apply = processor.apply_events

    async def poisoned(
        session: AsyncSession, items: list[tuple[Channel, NormalizedEvent]], handover: float
    ) -> None:
        if any(event.data.get("message_id") == "wamid.poison" for _, event in items):
            raise OperationalError("UPDATE conversations", {}, Exception("database is locked"))
        await real_apply(session, items, handover)

    monkeypatch.setattr(processor, "apply_events", poisoned)
    ctx = world.ctx
    good = await store_raw(ctx, webhook("wamid.good"))
    claimed = await processor.claim_pending(ctx)
    poison = await store_raw(ctx, webhook("wamid.poison"))
    rounds = 0
    while claimed and rounds < 3 * processor.MAX_ATTEMPTS:  # the runtime's rounds, without its waits
        claimed = await processor.process_claimed(ctx, claimed, ahead=10) or await processor.claim_pending(
            ctx
        )
        rounds += 1
    assert await leases(ctx) == {
        good: ("processed", 1, False),
        poison: ("invalid", processor.MAX_ATTEMPTS, False),
    }


async def lease_as_another_process(ctx: AppContext, raw_id: int, seconds_ago: float) -> None:
    leased_at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    until = leased_at + timedelta(seconds=ctx.settings.inbound_lease_seconds)
    async with ctx.db.transaction() as session:
        await session.execute(
            update(RawEvent).where(RawEvent.id == raw_id).values(lease_expires_at=until, attempts=1)
        )


async def test_a_claim_on_postgresql_leaves_less_than_a_batch_to_a_process_mid_round(world: World) -> None:
    ctx = world.ctx
    theirs = await store_raw(ctx, webhook("wamid.T1"))
    await lease_as_another_process(ctx, theirs, seconds_ago=0)
    waiting = [await store_raw(ctx, webhook(f"wamid.T{n}")) for n in range(2, 5)]
    if ctx.settings.is_sqlite:  # one process only: nobody else is ever mid-round
        assert await processor.claim_pending(ctx, limit=3) == waiting
        return
    assert await processor.claim_pending(ctx, limit=3) == []  # it leases them when its round ends
    more = await store_raw(ctx, webhook("wamid.T5"))
    assert await processor.claim_pending(ctx, limit=3) == waiting  # more than it takes in a round
    await processor.process_claimed(ctx, waiting)
    assert await processor.claim_pending(ctx, limit=3) == []
    await lease_as_another_process(ctx, theirs, seconds_ago=processor.BUSY_SECONDS + 1)  # it died
    assert await processor.claim_pending(ctx, limit=3) == [more]
