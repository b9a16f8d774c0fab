"""What Meta sent, kept raw before we answer, and the Kirem events made of it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, CreatedAt, UTCDateTime, channel_column, new_id, utcnow


class RawEvent(Base):
    """One signed POST to ``/webhooks/meta``, committed before the 200 goes back.

    ``status`` is ``pending`` until the processor has turned it into events (``processed``), found
    no channel for it (``unrouted``, kept for the operator) or could not read it (``invalid``).
    """

    __tablename__ = "raw_events"
    __table_args__ = (Index("ix_raw_events_status_received", "status", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class Event(CreatedAt, Base):
    """A Kirem event of one project; ``dedup_key`` recognises Meta's redeliveries."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("project_id", "dedup_key"),
        Index("ix_events_project_created", "project_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("evt"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel_id: Mapped[str | None] = channel_column()
    raw_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("raw_events.id", ondelete="SET NULL"), default=None
    )
    type: Mapped[str] = mapped_column(String(40))
    dedup_key: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column()
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """What routing rules look at (message type, sender, texts), kept so replay can route again."""
    kirem_body: Mapped[bytes] = mapped_column(LargeBinary)
    """The ``kirem``-format envelope, serialised once so every attempt sends the same bytes."""
    meta_body: Mapped[bytes] = mapped_column(LargeBinary)
    """The Meta-format body for this project: Meta's own bytes when they held only this event."""
    error: Mapped[str | None] = mapped_column(Text, default=None)
    """Why this event could not be applied (it is kept, not routed, and can be replayed); else None."""
