"""The webhook store's group commit on each engine: rows as the model would write them, all or none."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from kirem.db.engine import Database
from kirem.db.group_commit import BatchFailed
from kirem.inbound.ingest import RawEventStore
from kirem.inbound.models import RawEvent
from kirem.signals import RAW_EVENTS, Signals
from tests.conftest import ENGINES


async def test_concurrent_webhooks_are_stored_as_the_model_writes_them(database: Database) -> None:
    signals = Signals()
    store = RawEventStore(database, signals)
    try:
        await asyncio.gather(*(store.store("meta", b'{"n": %d}' % index) for index in range(40)))
    finally:
        await store.aclose()
    async with database.transaction() as session:
        session.add(RawEvent(source="orm", body=b"{}"))
    async with database.session() as session:
        rows = list((await session.execute(select(RawEvent).order_by(RawEvent.id))).scalars())
        stored_times = list((await session.execute(text("SELECT received_at FROM raw_events"))).scalars())
    stored, reference = rows[:-1], rows[-1]
    assert sorted(row.body for row in stored) == sorted(b'{"n": %d}' % index for index in range(40))
    for row in stored:
        assert (row.source, row.status, row.attempts) == ("meta", reference.status, reference.attempts)
        assert (row.lease_expires_at, row.processed_at, row.error) == (None, None, None)
        assert row.received_at.tzinfo is not None and row.received_at <= reference.received_at
    assert {type(value) for value in stored_times} == {type(stored_times[-1])}
    if isinstance(stored_times[-1], str):  # SQLite: the same text format, so ordering by time holds
        assert {len(value) for value in stored_times} == {len(stored_times[-1])}
    assert signals._events[RAW_EVENTS].is_set()


async def test_a_failed_batch_fails_every_webhook_in_it(database: Database) -> None:
    async with database.transaction() as session:
        await session.execute(text("ALTER TABLE raw_events RENAME TO raw_events_elsewhere"))
    store = RawEventStore(database, Signals())
    try:
        outcomes = await asyncio.gather(
            *(store.store("meta", b"{}") for _ in range(5)), return_exceptions=True
        )
    finally:
        await store.aclose()
    assert all(isinstance(outcome, BatchFailed) for outcome in outcomes)


@pytest.mark.parametrize("engine_name", [e for e in ENGINES if e == "postgres"])  # NOTIFY is PostgreSQL's
async def test_a_batch_notifies_other_processes_in_its_own_statement(database: Database) -> None:
    store = RawEventStore(database, Signals())
    async with database.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        heard: asyncio.Queue[str] = asyncio.Queue()

        def on_notice(_conn: object, _pid: int, channel: str, _payload: str) -> None:
            heard.put_nowait(channel)

        await raw.add_listener(RAW_EVENTS, on_notice)
        try:
            await store.store("meta", b"{}")
            assert await heard.get() == RAW_EVENTS
        finally:
            await store.aclose()
            await raw.remove_listener(RAW_EVENTS, on_notice)
