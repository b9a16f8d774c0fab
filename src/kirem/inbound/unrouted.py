"""Raw webhooks kept without a channel, and taking them again once their channel is back.

The processor notes on a raw webhook the numbers (``waba <id>`` for an event without one) that no
active channel had; a channel the plan disabled and an upgrade re-enables gets the webhooks it
missed meanwhile by putting those raw webhooks back in the pipeline. What they already routed to
other channels is recognised then as a redelivery and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.inbound.models import RawEvent
from kirem.kit.enums import RawEventStatus
from kirem.signals import RAW_EVENTS, notify
from kirem.tenancy.models import Channel

NO_CHANNEL = "no channel for phone_number_id "


def no_channel_note(unknown: set[str]) -> str:
    """The note of a raw webhook some of whose events no active channel had."""
    return NO_CHANNEL + ", ".join(sorted(unknown))


def unknown_name(phone_number_id: str | None, waba_id: str | None) -> str:
    """How the note names an event's number, or its WABA when it has none."""
    return phone_number_id or f"waba {waba_id}"


async def take_again(session: AsyncSession, channel: Channel, since: datetime) -> int:
    """Put back as pending the raw webhooks processed since ``since`` that named ``channel``'s
    number (or its WABA) as having no active channel; how many.

    Processed, not received, since then: a webhook received just before the channel was disabled may
    have been processed after. A rare operator action, so the scan is not indexed."""
    names = (unknown_name(channel.phone_number_id, None), unknown_name(None, channel.waba_id))
    result = await session.execute(
        update(RawEvent)
        .where(
            RawEvent.status.in_((RawEventStatus.UNROUTED, RawEventStatus.PROCESSED)),
            RawEvent.processed_at >= since,
            RawEvent.error.contains(NO_CHANNEL, autoescape=True),
            or_(*(RawEvent.error.contains(name, autoescape=True) for name in names)),
        )
        .values(status=RawEventStatus.PENDING, attempts=0, lease_expires_at=None, processed_at=None)
    )
    await notify(session, RAW_EVENTS)
    return int(getattr(result, "rowcount", 0) or 0)
