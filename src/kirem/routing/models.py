"""Webhook targets and routing rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, CreatedAt, UTCDateTime, new_id, utcnow
from kirem.routing import changes as _changes  # noqa: F401  (tells every change at commit)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_ATTEMPTS = 8


class WebhookTarget(CreatedAt, Base):
    __tablename__ = "webhook_targets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tgt"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    payload_format: Mapped[str] = mapped_column(String(8), default="kirem")
    events: Mapped[list[Any]] = mapped_column(default=list)
    """Subscribed event types; empty means every type."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    headers_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    """The custom headers (often credentials) as sealed JSON; ``None`` when there are none."""
    timeout_seconds: Mapped[float] = mapped_column(Float, default=DEFAULT_TIMEOUT_SECONDS)
    max_attempts: Mapped[int] = mapped_column(Integer, default=DEFAULT_MAX_ATTEMPTS)
    retry_schedule: Mapped[list[Any] | None] = mapped_column(default=None)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    disabled_by_plan: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """Disabled by a plan change (re-enabled by an upgrade), not by the user or by failures."""
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """First failure since the last success; 5 days of it disables the target."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RoutingRule(CreatedAt, Base):
    __tablename__ = "routing_rules"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rul"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    target_ids: Mapped[list[Any]] = mapped_column(default=list)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_by_plan: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
