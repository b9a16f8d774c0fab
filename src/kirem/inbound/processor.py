"""Turning stored raw webhooks into events, log updates and deliveries — after Meta got its 200.

Raw events are claimed with a lease, so a processor that dies mid-way leaves its rows to be taken
again; everything a raw event produces is written in one transaction with its ``processed`` mark,
and redeliveries are recognised by each event's dedup key, so processing twice changes nothing.

Each event of a webhook (one message, status or notice, for one project) is applied in its own
savepoint: when one fails — bad data, a database refusal — only its own writes are undone, it is
kept as an event marked with the error (not routed; replayable once the cause is fixed), counted in
``kirem_inbound_item_failures_total``, and its neighbours are routed as usual. A passing database
trouble (locked, connection lost, serialization) is not the item's fault: the whole webhook is
taken again later instead, and its items already routed are recognised then.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.conversations.inbound import apply_event
from kirem.db.base import utcnow
from kirem.inbound.events import record_event
from kirem.inbound.models import Event, RawEvent
from kirem.inbound.normalize import NormalizedEvent, normalize
from kirem.routing.fanout import fan_out, project_routing, stored_facts
from kirem.routing.matcher import facts_from
from kirem.signals import DELIVERIES, notify
from kirem.tenancy.models import Channel
from kirem.usage import meter as usage

log = logging.getLogger("kirem.inbound")
MAX_ATTEMPTS = 5
_TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
"""PostgreSQL: connection, transaction rollback (serialization, deadlock), resources, operator, system."""


async def claim_raw_events(session: AsyncSession, now: datetime, limit: int, lease: timedelta) -> list[int]:
    due = (
        select(RawEvent.id)
        .where(RawEvent.status == "pending")
        .where(or_(RawEvent.lease_expires_at.is_(None), RawEvent.lease_expires_at < now))
        .order_by(RawEvent.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return []
    claimed = await session.execute(
        update(RawEvent)
        .where(RawEvent.id.in_(ids), RawEvent.status == "pending")
        .where(or_(RawEvent.lease_expires_at.is_(None), RawEvent.lease_expires_at < now))
        .values(lease_expires_at=now + lease, attempts=RawEvent.attempts + 1)
        .returning(RawEvent.id)
    )
    result = sorted(claimed.scalars())
    await session.commit()
    return result


async def process_pending(ctx: AppContext, limit: int = 50) -> int:
    """Process one batch of pending raw events; return how many were claimed.

    The batch is processed in one transaction; if that transaction fails as a whole (a passing
    database trouble, or an error outside any one raw event), each raw event is taken alone.
    """
    async with ctx.db.session() as session:
        lease = timedelta(seconds=ctx.settings.inbound_lease_seconds)
        ids = await claim_raw_events(session, utcnow(), limit, lease)
    if not ids:
        return 0
    try:
        await process_raw_events(ctx, ids)
    except Exception:
        log.warning(
            "processing %d raw events together failed; taking them one by one", len(ids), exc_info=True
        )
        for raw_id in ids:
            try:
                await process_raw_event(ctx, raw_id)
            except Exception as exc:
                log.exception("processing raw event %s failed", raw_id)
                await _record_failure(ctx, raw_id, exc)
    ctx.signals.wake(DELIVERIES)
    return len(ids)


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


async def process_raw_events(ctx: AppContext, ids: list[int]) -> None:
    """Claimed raw events in one transaction, each in its own savepoint.

    A raw event that fails for its own reasons is rolled back alone and marked like a failure of
    ``process_raw_event``; a passing database trouble fails the whole transaction.
    """
    async with ctx.db.transaction() as session:
        stmt = (
            select(RawEvent).where(RawEvent.id.in_(ids), RawEvent.status == "pending").order_by(RawEvent.id)
        )
        raws = list((await session.execute(stmt)).scalars())
        if not raws:
            return
        now = utcnow()
        for raw in raws:
            raw.processed_at = now
        await session.flush()  # write first: SQLite's savepoints below then nest in a write transaction
        routing_cache: dict[str, Any] = {}
        for raw in raws:
            try:
                async with session.begin_nested():
                    await _process(ctx, session, raw, now, routing_cache)
            except Exception as exc:
                if _transient(exc):
                    raise
                log.exception("processing raw event %s failed", raw.id)
                raw.processed_at = None  # as if its own transaction had been rolled back
                _failed(raw, exc)
        await notify(session, DELIVERIES)


async def process_raw_event(ctx: AppContext, raw_id: int) -> None:
    async with ctx.db.transaction() as session:
        raw = await session.get(RawEvent, raw_id)
        if raw is None or raw.status != "pending":
            return
        now = utcnow()
        raw.processed_at = now
        await session.flush()  # write first: SQLite's savepoints below then nest in a write transaction
        await _process(ctx, session, raw, now, {})
        await notify(session, DELIVERIES)


async def _process(
    ctx: AppContext, session: AsyncSession, raw: RawEvent, now: datetime, routing_cache: dict[str, Any]
) -> None:
    """Turn one raw event into events, log and conversation updates and deliveries, and mark it."""
    try:
        envelope = orjson.loads(raw.body)
    except orjson.JSONDecodeError:
        envelope = None
    if not isinstance(envelope, dict):
        _finish(raw, "invalid", now, "body is not a JSON object")
        return
    events = normalize(raw.body, envelope)
    owners = await _owners(session, events)
    unknown: set[str] = set()
    routed = False
    failures: list[str] = []
    for normalized in events:
        channels = (
            owners.get(normalized.phone_number_id or "") or owners.get(f"waba:{normalized.waba_id}") or []
        )
        if not channels:
            unknown.add(normalized.phone_number_id or f"waba {normalized.waba_id}")
            continue
        routed = True
        for channel in _one_per_project(channels):
            try:
                async with session.begin_nested():
                    await _route_one(ctx, session, raw, channel, normalized, routing_cache, now)
            except Exception as exc:
                if _transient(exc):
                    raise
                reason = _reason(exc)
                log.exception("raw event %s: %s %s failed", raw.id, normalized.type, normalized.dedup_key)
                ctx.metrics.inbound_item_failures.labels(normalized.type).inc()
                failures.append(f"{normalized.dedup_key}: {reason}")
                await _keep_failed(session, raw, channel, normalized, reason, now)
    notes = [f"no channel for phone_number_id {', '.join(sorted(unknown))}"] if unknown else []
    if failures:
        notes.append(f"{len(failures)} item(s) failed: " + "; ".join(failures))
    _finish(raw, "processed" if routed or not events else "unrouted", now, "\n".join(notes) or None)


async def _route_one(
    ctx: AppContext,
    session: AsyncSession,
    raw: RawEvent,
    channel: Channel,
    normalized: NormalizedEvent,
    routing_cache: dict[str, Any],
    now: datetime,
) -> None:
    """Apply one event to conversations and logs, record it once, and fan it out to the targets."""
    await apply_event(session, channel, normalized, ctx.settings.handover_seconds)
    facts = stored_facts(facts_from(normalized, channel.id))
    event = await record_event(
        session,
        project_id=channel.project_id,
        channel_id=channel.id,
        raw_event_id=raw.id,
        type=normalized.type,
        dedup_key=normalized.dedup_key,
        data=normalized.data,
        facts=facts,
        meta_body=normalized.meta_body,
        now=now,
    )
    if event is None:
        event = await _kept_failed(session, channel.project_id, normalized.dedup_key)
        if event is None:
            return  # a redelivery of an event already routed
        event.data, event.facts, event.error = normalized.data, facts, None
    await usage.count(session, channel.project_id, usage.event_amounts(event.type, event.data), now)
    if channel.project_id not in routing_cache:
        routing_cache[channel.project_id] = await project_routing(session, channel.project_id)
    await fan_out(session, event, routing_cache[channel.project_id], now)


async def _keep_failed(
    session: AsyncSession,
    raw: RawEvent,
    channel: Channel,
    normalized: NormalizedEvent,
    reason: str,
    now: datetime,
) -> None:
    """Keep an event that could not be applied, marked with why; its data too when it can be stored."""
    data = dict(normalized.data)
    if "conversation_id" in data:
        data["conversation_id"] = None  # the conversation it may have opened was undone with it
    for kept in (data, {"unstorable": True}):
        try:
            async with session.begin_nested():
                await record_event(
                    session,
                    project_id=channel.project_id,
                    channel_id=channel.id,
                    raw_event_id=raw.id,
                    type=normalized.type,
                    dedup_key=normalized.dedup_key,
                    data=kept,
                    meta_body=normalized.meta_body,
                    now=now,
                    error=reason,
                )
            return
        except Exception:
            log.exception("raw event %s: keeping failed item %s", raw.id, normalized.dedup_key)
    raise RuntimeError(f"could not keep failed item {normalized.dedup_key}")


async def _kept_failed(session: AsyncSession, project_id: str, dedup_key: str) -> Event | None:
    """The event kept earlier for this item because it failed then (applied now: retry it)."""
    stmt = select(Event).where(
        Event.project_id == project_id, Event.dedup_key == dedup_key, Event.error.is_not(None)
    )
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


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


def _finish(raw: RawEvent, status: str, now: datetime, error: str | None) -> None:
    raw.status = status
    raw.processed_at = now
    raw.lease_expires_at = None
    raw.error = error


async def _owners(session: AsyncSession, events: list[NormalizedEvent]) -> dict[str, list[Channel]]:
    """Active channels by phone number id, and by ``waba:<id>`` for events without a number."""
    numbers = {e.phone_number_id for e in events if e.phone_number_id}
    wabas = {e.waba_id for e in events if not e.phone_number_id and e.waba_id}
    owners: dict[str, list[Channel]] = defaultdict(list)
    if numbers or wabas:
        stmt = select(Channel).where(
            Channel.status == "active",
            or_(Channel.phone_number_id.in_(numbers or {""}), Channel.waba_id.in_(wabas or {""})),
        )
        for channel in (await session.execute(stmt)).scalars():
            if channel.phone_number_id in numbers:
                owners[channel.phone_number_id].append(channel)
            if channel.waba_id in wabas:
                owners[f"waba:{channel.waba_id}"].append(channel)
    return owners


def _one_per_project(channels: list[Channel]) -> list[Channel]:
    seen: dict[str, Channel] = {}
    for channel in channels:
        seen.setdefault(channel.project_id, channel)
    return list(seen.values())
