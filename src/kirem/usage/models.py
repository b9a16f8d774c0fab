"""The usage counters: one row per project, month and metric, incremented atomically."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base


class UsageCounter(Base):
    """How many of one billable thing a project had in one UTC month (``YYYY-MM``)."""

    __tablename__ = "usage_counters"

    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    """``outbound:<type>``, ``category:<pricing category>``, ``inbound``, ``deliveries`` or ``attempts``."""
    count: Mapped[int] = mapped_column(BigInteger, default=0)
