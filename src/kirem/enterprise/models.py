"""A project's dedicated MCP endpoint and its SLA policy."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, CreatedAt, UTCDateTime, utcnow


class McpEndpoint(CreatedAt, Base):
    """``/v1/mcp/{slug}``: answers only keys of scope ``mcp`` of this project, at its own rate."""

    __tablename__ = "mcp_endpoints"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    rate_limit_per_second: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SlaPolicy(CreatedAt, Base):
    """Thresholds over a sliding window and the last verdict, kept so a transition is told once.

    ``state`` is ``ok`` or ``breached``; ``next_evaluation_at`` is also the claim: a process
    evaluates a policy only by moving it forward, so several processes never evaluate it twice.
    """

    __tablename__ = "sla_policies"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    window_seconds: Mapped[int] = mapped_column(Integer)
    min_success_rate: Mapped[float | None] = mapped_column(Float, default=None)
    max_p95_latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    min_deliveries: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="ok")
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    next_evaluation_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deliveries: Mapped[int | None] = mapped_column(Integer, default=None)
    success_rate: Mapped[float | None] = mapped_column(Float, default=None)
    p95_latency_ms: Mapped[int | None] = mapped_column(Integer, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
