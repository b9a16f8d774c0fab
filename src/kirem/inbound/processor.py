"""Turning stored raw webhooks into events, log updates and deliveries — after Meta got its 200.

Raw events are claimed with a lease, so a processor that dies mid-way leaves its rows to be taken
again; everything a raw event produces is written in one transaction with its ``processed`` mark,
and redeliveries are recognised by each event's dedup key, so processing twice changes nothing.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.conversations.inbound import apply_event
from kirem.db.base import utcnow
from kirem.inbound.events import record_event
from kirem.inbound.models import RawEvent
from kirem.inbound.normalize import NormalizedEvent, normalize
from kirem.routing.fanout import fan_out, project_routing, stored_facts
from kirem.routing.matcher import facts_from
from kirem.signals import DELIVERIES, notify
from kirem.tenancy.models import Channel

log = logging.getLogger("kirem.inbound")
MAX_ATTEMPTS = 5


async def claim_raw_events(session: AsyncSession, now: datetime, limit: int, lease: timedelta) -> list[int]:
    due = (
        select(RawEvent.id)
        .where(RawEvent.status == "pending")
        .where(or_(RawEvent.lease_expires_at.is_(None), RawEvent.lease_expires_at < now))
        .order_by(RawEvent.id)
        .limit(limit)
    )
    if session.bind.dialect.name == "postgresql":
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
    """Process one batch of pending raw events; return how many were claimed."""
    async with ctx.db.session() as session:
        lease = timedelta(seconds=ctx.settings.inbound_lease_seconds)
        ids = await claim_raw_events(session, utcnow(), limit, lease)
    for raw_id in ids:
        try:
            await process_raw_event(ctx, raw_id)
        except Exception as exc:
            log.exception("processing raw event %s failed", raw_id)
            await _record_failure(ctx, raw_id, exc)
    if ids:
        ctx.signals.wake(DELIVERIES)
    return len(ids)


async def _record_failure(ctx: AppContext, raw_id: int, exc: Exception) -> None:
    async with ctx.db.transaction() as session:
        raw = await session.get(RawEvent, raw_id)
        if raw is None:
            return
        raw.error = f"{exc.__class__.__name__}: {exc}"[:2000]
        raw.lease_expires_at = None
        if raw.attempts >= MAX_ATTEMPTS:
            raw.status = "invalid"


async def process_raw_event(ctx: AppContext, raw_id: int) -> None:
    async with ctx.db.transaction() as session:
        raw = await session.get(RawEvent, raw_id)
        if raw is None or raw.status != "pending":
            return
        now = utcnow()
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
        routing_cache: dict[str, Any] = {}
        for normalized in events:
            channels = (
                owners.get(normalized.phone_number_id or "") or owners.get(f"waba:{normalized.waba_id}") or []
            )
            if not channels:
                unknown.add(normalized.phone_number_id or f"waba {normalized.waba_id}")
                continue
            routed = True
            for channel in _one_per_project(channels):
                await apply_event(session, channel, normalized, ctx.settings.handover_seconds)
                event = await record_event(
                    session,
                    project_id=channel.project_id,
                    channel_id=channel.id,
                    raw_event_id=raw.id,
                    type=normalized.type,
                    dedup_key=normalized.dedup_key,
                    data=normalized.data,
                    facts=stored_facts(facts_from(normalized, channel.id)),
                    meta_body=normalized.meta_body,
                    now=now,
                )
                if event is None:
                    continue
                if channel.project_id not in routing_cache:
                    routing_cache[channel.project_id] = await project_routing(session, channel.project_id)
                await fan_out(session, event, routing_cache[channel.project_id], now)
        missing = f"no channel for phone_number_id {', '.join(sorted(unknown))}" if unknown else None
        _finish(raw, "processed" if routed or not events else "unrouted", now, missing)
        await notify(session, DELIVERIES)


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
