"""Inbound's entry point for the pipeline: a batch of stored raw webhooks read into their events.

Each raw body is parsed and normalised (:func:`kirem.inbound.normalize.normalize`); the active
channels every event names are found with one query for the whole batch. An event goes to one
channel per project that has its number (or, without a number, its WABA).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache

import orjson
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.among import among_param
from kirem.inbound.models import RawEvent
from kirem.inbound.normalize import NormalizedEvent, normalize
from kirem.inbound.unrouted import unknown_name
from kirem.tenancy.models import Channel


@dataclass(frozen=True)
class Item:
    """One event of a raw webhook for one project's channel."""

    raw: RawEvent
    channel: Channel
    event: NormalizedEvent


@dataclass
class ReadRaw:
    raw: RawEvent
    invalid: str | None = None
    """Why the body could not be read at all; None when it was."""
    events: int = 0
    items: list[Item] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)
    """Numbers (or WABAs) of events no active channel has."""


async def read_raw_events(session: AsyncSession, raws: list[RawEvent]) -> list[ReadRaw]:
    read: list[tuple[ReadRaw, list[NormalizedEvent]]] = []
    for raw in raws:
        try:
            envelope = orjson.loads(raw.body)
        except orjson.JSONDecodeError:
            envelope = None
        if not isinstance(envelope, dict):
            read.append((ReadRaw(raw, invalid="body is not a JSON object"), []))
            continue
        events = normalize(raw.body, envelope)
        read.append((ReadRaw(raw, events=len(events)), events))
    owners = await _owners(session, [event for _, events in read for event in events])
    for result, events in read:
        for event in events:
            channels = owners.get(event.phone_number_id or "") or owners.get(f"waba:{event.waba_id}") or []
            if not channels:
                result.unknown.add(unknown_name(event.phone_number_id, event.waba_id))
            result.items += [Item(result.raw, channel, event) for channel in _one_per_project(channels)]
    return [result for result, _ in read]


async def _owners(session: AsyncSession, events: list[NormalizedEvent]) -> dict[str, list[Channel]]:
    """Active channels by phone number id, and by ``waba:<id>`` for events without a number."""
    numbers = {e.phone_number_id for e in events if e.phone_number_id}
    wabas = {e.waba_id for e in events if not e.phone_number_id and e.waba_id}
    owners: dict[str, list[Channel]] = defaultdict(list)
    if numbers or wabas:
        stmt = _owners_statement(session.get_bind().dialect.name)
        params = {"numbers": list(numbers), "wabas": list(wabas)}
        for channel in (await session.execute(stmt, params)).scalars():
            if channel.phone_number_id in numbers:
                owners[channel.phone_number_id].append(channel)
            if channel.waba_id in wabas:
                owners[f"waba:{channel.waba_id}"].append(channel)
    return owners


@cache
def _owners_statement(dialect_name: str) -> Select[Channel]:
    """Active channels with a phone number id among ``numbers`` or a WABA among ``wabas``."""
    return select(Channel).where(
        Channel.status == "active",
        or_(
            among_param(dialect_name, Channel.phone_number_id, "numbers", json_on_sqlite=True),
            among_param(dialect_name, Channel.waba_id, "wabas", json_on_sqlite=True),
        ),
    )


def _one_per_project(channels: list[Channel]) -> list[Channel]:
    seen: dict[str, Channel] = {}
    for channel in channels:
        seen.setdefault(channel.project_id, channel)
    return list(seen.values())
