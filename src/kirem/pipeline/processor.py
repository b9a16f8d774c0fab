"""The processing pipeline: stored raw webhooks turned into events, log and conversation updates
and deliveries — after Meta got its 200.

A stage above the domains it drives. A claimed batch of raw webhooks goes through one entry point
per domain, in order, each working on the whole batch with one query per lookup:

1. inbound reads the bodies into events and finds their channels (:mod:`kirem.inbound.batch`);
2. the events log tells which events are new — a redelivery is recognised by its dedup key
   (:class:`kirem.inbound.events.EventLog`);
3. conversations apply the new ones: conversations, the 24-hour window, the message log, statuses,
   coexistence (:func:`kirem.conversations.inbound.apply_events`);
4. the events log writes them (one multi-row insert) and usage counts them;
5. routing decides their targets from the per-process routing cache (:mod:`kirem.routing.cache`);
6. delivery queues them (:func:`kirem.delivery.enqueue.enqueue`) — with a ``handoff``, the fresh
   rows are written leased to this process's worker and handed to it, with their events' bodies,
   once the batch is committed, so it sends them without claiming, polling or reading them back.

Raw events are claimed with a lease, so a processor that dies mid-way leaves its rows to be taken
again; everything a batch produces is written in one transaction with the raw events' ``processed``
marks, and redeliveries are recognised, so processing twice changes nothing.

The batch runs in one transaction. When it fails for a reason of its own (bad data, a database
refusal), it is rolled back and taken again item by item, each raw event in a savepoint and each of
its items in another: a failing item is kept as an event marked with the error (not routed; replayable
once the cause is fixed), counted in ``kirem_inbound_item_failures_total``, and its neighbours are
routed as usual. A passing database trouble (locked, connection lost, serialization) is not the
items' fault: the whole transaction is taken again, raw event by raw event, and what was already
routed is recognised then.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from functools import cache
from typing import cast

from sqlalchemy import ColumnElement, Select, Table, Update, bindparam, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kirem.context import AppContext
from kirem.conversations.inbound import apply_events
from kirem.db.among import among_param
from kirem.db.base import utcnow
from kirem.delivery.enqueue import Handoff, Lease, Queued, enqueue
from kirem.inbound.batch import Item, ReadRaw, read_raw_events
from kirem.inbound.events import EventLog, LoggedEvent, NewEvent, record_event
from kirem.inbound.models import RawEvent
from kirem.inbound.unrouted import no_channel_note
from kirem.routing.cache import routing_of
from kirem.routing.decide import decide, stored_facts
from kirem.routing.matcher import facts_from
from kirem.signals import DELIVERIES, RAW_EVENTS, notify
from kirem.usage import meter as usage

log = logging.getLogger("kirem.inbound")
MAX_ATTEMPTS = 5
BATCH_SIZE = 200
"""Raw events claimed and processed together: each stage's queries are shared by all of them."""
BUSY_SECONDS = 2.0
"""How long after leasing raw events a processor counts as mid-round to the others (its rounds
take well under a second; a dead one's lease stops holding the others back after this)."""
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""PostgreSQL: connection, transaction rollback (serialization, deadlock), resources, operator, system."""


async def claim_raw_events(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta, *, beside_others: bool = False
) -> list[int]:
    """Lease up to ``limit`` pending raw events, oldest first, in one statement and commit; their ids.

    ``beside_others`` (PostgreSQL): take nothing while another processor is mid-round, unless more
    than ``limit`` raw events wait (see :func:`_nobody_else_busy`).
    """
    result = await lease_raw_events(session, now, limit, lease, beside_others=beside_others)
    await session.commit()
    return result


async def lease_raw_events(
    session: AsyncSession, now: datetime, limit: int, lease: timedelta, *, beside_others: bool = False
) -> list[int]:
    """Lease up to ``limit`` pending raw events, oldest first, in the session's transaction; their ids."""
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    params = {"now": now, "expires": now + lease, "limit": limit}
    if on_postgresql and beside_others:
        params |= {"recently": now + lease - timedelta(seconds=BUSY_SECONDS), "waiting": limit + 1}
    claimed = await session.execute(_lease_statement(on_postgresql, beside_others=beside_others), params)
    return sorted(claimed.scalars())


@cache
def _lease_statement(on_postgresql: bool, *, beside_others: bool) -> Update:
    """The lease of :func:`lease_raw_events`, built once per kind: executions skip building it and
    its cache key. Parameters: ``now``, ``expires``, ``limit`` (and ``recently``, ``waiting`` for
    :func:`_nobody_else_busy`)."""
    due = (
        select(RawEvent.id)
        .where(RawEvent.status == "pending")
        .where(or_(RawEvent.lease_expires_at.is_(None), RawEvent.lease_expires_at < bindparam("now")))
        .order_by(RawEvent.id)
        .limit(bindparam("limit"))
    )
    claim = update(RawEvent)
    if on_postgresql:
        due = due.with_for_update(skip_locked=True)
        if beside_others:
            claim = claim.where(_nobody_else_busy())
    return (
        claim.where(RawEvent.id.in_(due.scalar_subquery()))
        .values(lease_expires_at=bindparam("expires"), attempts=RawEvent.attempts + 1)
        .returning(RawEvent.id)
    )


def _nobody_else_busy() -> ColumnElement[bool]:
    """No other processor is mid-round, or more is waiting than one round of it will take.

    A processor mid-round holds raw events leased moments ago, and leases the next batch (up to
    ``limit``) when its round ends. A second process that took the rows waiting meanwhile would
    only split them into smaller batches, each paying every stage's fixed queries, which costs
    more CPU than it saves wherever the processes share cores; it joins in when the backlog
    outgrows what the busy one can take. A dead processor's lease stops counting as a round
    in progress after ``BUSY_SECONDS`` (``recently`` is a lease taken then; ``waiting`` is
    ``limit + 1``).
    """
    other = aliased(RawEvent)  # not the updated row: these look at the whole table
    busy = exists().where(other.status == "pending", other.lease_expires_at > bindparam("recently"))
    free = or_(other.lease_expires_at.is_(None), other.lease_expires_at < bindparam("now"))
    waiting = select(other.id).where(other.status == "pending", free).limit(bindparam("waiting")).subquery()
    backlog = select(func.count()).select_from(waiting).scalar_subquery()
    return or_(~busy, backlog > bindparam("limit"))


async def process_pending(ctx: AppContext, limit: int = BATCH_SIZE, handoff: Handoff | None = None) -> int:
    """Process one batch of pending raw events; return how many were claimed."""
    ids = await claim_pending(ctx, limit)
    if ids:
        await process_claimed(ctx, ids, handoff)
    return len(ids)


async def claim_pending(ctx: AppContext, limit: int = BATCH_SIZE) -> list[int]:
    """Lease up to ``limit`` pending raw events in a transaction of their own; their ids.

    On PostgreSQL nothing is taken while another process is mid-round with less than a batch
    waiting: it leases those at its round's end (:func:`_nobody_else_busy`).
    """
    async with ctx.db.session() as session:
        return await claim_raw_events(session, utcnow(), limit, _lease(ctx), beside_others=True)


async def process_claimed(
    ctx: AppContext, ids: list[int], handoff: Handoff | None = None, ahead: int = 0
) -> list[int]:
    """Process raw events this process has leased; return the next batch's ids, leased already.

    The batch is processed in one transaction; if that transaction fails as a whole (a passing
    database trouble, or an error outside any one raw event), each raw event is taken alone.
    ``handoff`` gets the batch's fresh deliveries (not those of raw events taken alone). With
    ``ahead``, the batch's transaction ends by leasing up to that many next pending raw events: they
    are committed with it (their attempt counted), so the next round needs no claim transaction of
    its own. Nothing is leased ahead when the batch's transaction fails.
    """
    claimable, next_ids = True, list[int]()
    try:
        claimable, next_ids = await process_raw_events(ctx, ids, handoff, ahead)
    except Exception:
        log.warning(
            "processing %d raw events together failed; taking them one by one", len(ids), exc_info=True
        )
        for raw_id in ids:
            try:
                await process_raw_events(ctx, [raw_id])
            except Exception as exc:
                log.exception("processing raw event %s failed", raw_id)
                await _record_failure(ctx, raw_id, exc)
    if claimable:
        ctx.signals.wake(DELIVERIES)
    return next_ids


def _lease(ctx: AppContext) -> timedelta:
    return timedelta(seconds=ctx.settings.inbound_lease_seconds)


async def _lease_ahead(ctx: AppContext, session: AsyncSession, limit: int) -> list[int]:
    """The next batch, leased in the closing batch's transaction.

    A wake-up from here on may be for rows this statement does not see, so the processor waits for
    one only if it came after: the signal is cleared first.
    """
    ctx.signals.clear(RAW_EVENTS)
    return await lease_raw_events(session, utcnow(), limit, _lease(ctx))


async def _record_failure(ctx: AppContext, raw_id: int, exc: Exception) -> None:
    async with ctx.db.transaction() as session:
        raw = await session.get(RawEvent, raw_id)
        if raw is not None:
            _failed(raw, exc)


def _failed(raw: RawEvent, exc: Exception) -> None:
    """Note why processing failed; the raw event is taken again after its lease, at most 5 times."""
    raw.error = f"{exc.__class__.__name__}: {exc}"[:2000]
    raw.lease_expires_at = None
    if raw.attempts >= MAX_ATTEMPTS:
        raw.status = "invalid"


async def process_raw_events(
    ctx: AppContext, ids: list[int], handoff: Handoff | None = None, ahead: int = 0
) -> tuple[bool, list[int]]:
    """Claimed raw events in one transaction: the whole batch at once, else item by item.

    Returns whether deliveries were left for workers to claim (they were woken: a ``NOTIFY`` on
    PostgreSQL); rows all handed to ``handoff`` need no claim, so nobody is woken for them. And the
    ids of up to ``ahead`` next raw events, leased at the end of the batch's transaction.
    """
    next_ids: list[int] = []
    try:
        async with ctx.db.transaction() as session:
            raws = await _pending(session, ids)
            now = utcnow()
            lease = handoff.handoff_lease(now) if handoff is not None else None
            batch = await read_raw_events(session, raws)
            items = [item for read in batch for item in read.items]
            queued = await _stages(ctx, session, items, now, lease)
            await _finish_batch(session, batch, now)
            if queued.unleased:
                await notify(session, DELIVERIES)
            if ahead:
                next_ids = await _lease_ahead(ctx, session, ahead)
    except Exception as exc:
        if _transient(exc):
            raise
        log.warning("processing %d raw events as a batch failed; item by item", len(ids), exc_info=True)
        await _item_by_item(ctx, ids)
        return True, []
    if handoff is not None and lease is not None and queued.handed:
        await handoff.adopt(lease, queued.handed)
    return queued.unleased > 0, next_ids


async def _item_by_item(ctx: AppContext, ids: list[int]) -> None:
    async with ctx.db.transaction() as session:
        raws = await _pending(session, ids)
        now = utcnow()
        for raw in raws:
            raw.processed_at = now
        await session.flush()  # write first: SQLite's savepoints below then nest in a write transaction
        for read in await read_raw_events(session, raws):
            await _process_alone(ctx, session, read, now)
        await notify(session, DELIVERIES)


async def _pending(session: AsyncSession, ids: list[int]) -> list[RawEvent]:
    statement = _pending_statement(session.get_bind().dialect.name)
    return list((await session.execute(statement, {"ids": ids})).scalars())


@cache
def _pending_statement(dialect_name: str) -> Select[RawEvent]:
    """The raw events of ``ids`` still pending, built once per dialect."""
    pending = (among_param(dialect_name, RawEvent.id, "ids"), RawEvent.status == "pending")
    return select(RawEvent).where(*pending).order_by(RawEvent.id)


async def _stages(
    ctx: AppContext, session: AsyncSession, items: list[Item], now: datetime, lease: Lease | None = None
) -> Queued:
    """Every stage, in order, on the whole list of items; what was queued for the worker."""
    if not items:
        return Queued([], 0)
    events = await EventLog.lookup(session, [(i.channel.project_id, i.event.dedup_key) for i in items])
    fresh = [i for i in items if events.claim(i.channel.project_id, i.event.dedup_key)]
    await apply_events(session, [(i.channel, i.event) for i in fresh], ctx.settings.handover_seconds)
    logged = await events.record(session, [_new_event(i) for i in fresh], now)
    await _count_usage(session, logged, now)
    routing = await routing_of(session, {e.project_id for e in logged})
    routed = [(e, decide(e, routing[e.project_id])) for e in logged]
    bodies = {e.id: e.bodies for e in logged if e.bodies is not None}
    return await enqueue(session, routed, now, lease, bodies)


def _new_event(item: Item) -> NewEvent:
    event, channel = item.event, item.channel
    return NewEvent(
        project_id=channel.project_id,
        channel_id=channel.id,
        raw_event_id=item.raw.id,
        type=event.type,
        dedup_key=event.dedup_key,
        data=event.data,
        facts=stored_facts(facts_from(event, channel.id)),
        meta_body=event.meta_body,
    )


async def _count_usage(session: AsyncSession, logged: list[LoggedEvent], now: datetime) -> None:
    amounts: dict[str, Counter[str]] = defaultdict(Counter)
    for event in logged:
        amounts[event.project_id].update(usage.event_amounts(event.type, event.data))
    for project_id in sorted(amounts):
        await usage.count(session, project_id, amounts[project_id], now)


async def _process_alone(ctx: AppContext, session: AsyncSession, read: ReadRaw, now: datetime) -> None:
    """One raw event in its own savepoint, each of its items in another."""
    raw = read.raw
    try:
        async with session.begin_nested():
            failures: list[str] = []
            for item in read.items:
                try:
                    async with session.begin_nested():
                        await _stages(ctx, session, [item], now)
                except Exception as exc:
                    if _transient(exc):
                        raise
                    reason = _reason(exc)
                    log.exception("raw event %s: %s %s failed", raw.id, item.event.type, item.event.dedup_key)
                    ctx.metrics.inbound_item_failures.labels(item.event.type).inc()
                    failures.append(f"{item.event.dedup_key}: {reason}")
                    await _keep_failed(session, item, reason, now)
            _finish_read(read, failures, now)
    except Exception as exc:
        if _transient(exc):
            raise
        log.exception("processing raw event %s failed", raw.id)
        raw.processed_at = None  # as if its own transaction had been rolled back
        _failed(raw, exc)


async def _keep_failed(session: AsyncSession, item: Item, reason: str, now: datetime) -> None:
    """Keep an event that could not be applied, marked with why; its data too when it can be stored."""
    event, channel = item.event, item.channel
    data = dict(event.data)
    if "conversation_id" in data:
        data["conversation_id"] = None  # the conversation it may have opened was undone with it
    for kept in (data, {"unstorable": True}):
        try:
            async with session.begin_nested():
                await record_event(
                    session,
                    project_id=channel.project_id,
                    channel_id=channel.id,
                    raw_event_id=item.raw.id,
                    type=event.type,
                    dedup_key=event.dedup_key,
                    data=kept,
                    meta_body=event.meta_body,
                    now=now,
                    error=reason,
                )
            return
        except Exception:
            log.exception("raw event %s: keeping failed item %s", item.raw.id, event.dedup_key)
    raise RuntimeError(f"could not keep failed item {event.dedup_key}")


def _transient(exc: Exception) -> bool:
    """A database trouble that passes (retry the webhook), not one this item causes."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES


def _reason(exc: Exception) -> str:
    """A short, single-line cause for the event and the raw row (driver errors are long)."""
    cause = getattr(exc, "orig", None) or exc
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    return f"{cause.__class__.__name__}: {first}"[:500]


async def _finish_batch(session: AsyncSession, batch: list[ReadRaw], now: datetime) -> None:
    """Mark a batch's raw events done with Core statements, one per outcome (mostly one for the
    batch): no unit-of-work pass over them, no parameters per row."""
    by_outcome: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for read in batch:
        by_outcome[_outcome(read, [])].append(read.raw.id)
    finish = _finish_statement(session.get_bind().dialect.name)
    for (status, error), raw_ids in by_outcome.items():
        await session.execute(finish, {"raw_ids": raw_ids, "outcome": status, "note": error, "done_at": now})


@cache
def _finish_statement(dialect_name: str) -> Update:
    """Raw events (``raw_ids``) done with an ``outcome`` and a ``note`` at ``done_at``."""
    table = cast("Table", RawEvent.__table__)
    return (
        update(table)
        .where(among_param(dialect_name, table.c.id, "raw_ids", json_on_sqlite=True))
        .values(
            status=bindparam("outcome"),
            error=bindparam("note"),
            processed_at=bindparam("done_at"),
            lease_expires_at=None,
        )
    )


def _finish_read(read: ReadRaw, failures: list[str], now: datetime) -> None:
    status, error = _outcome(read, failures)
    _finish(read.raw, status, now, error)


def _outcome(read: ReadRaw, failures: list[str]) -> tuple[str, str | None]:
    """The status a read raw event ends in, and its note (unknown channels, failed items)."""
    if read.invalid is not None:
        return "invalid", read.invalid
    notes = [no_channel_note(read.unknown)] if read.unknown else []
    if failures:
        notes.append(f"{len(failures)} item(s) failed: " + "; ".join(failures))
    routed = bool(read.items) or not read.events
    return "processed" if routed else "unrouted", "\n".join(notes) or None


def _finish(raw: RawEvent, status: str, now: datetime, error: str | None) -> None:
    raw.status = status
    raw.processed_at = now
    raw.lease_expires_at = None
    raw.error = error
