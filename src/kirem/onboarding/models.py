"""A setup link: one client's one-time way through Embedded Signup into a new project of the agency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, CreatedAt, new_id


class SetupLink(CreatedAt, Base):
    __tablename__ = "setup_links"
    __table_args__ = (Index("ix_setup_links_project_created", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("csl"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    """The agency's project that made the link: its targets get ``channels.connected``."""
    client_name: Mapped[str] = mapped_column(String(200))
    redirect_url: Mapped[str] = mapped_column(Text)
    coexistence: Mapped[bool] = mapped_column(Boolean, default=False)
    """Onboard a number that stays on the WhatsApp Business app (contacts and history synced)."""
    mode: Mapped[str] = mapped_column(String(8))
    """``live`` (Meta's Embedded Signup) or ``sandbox`` (the emulated popup and Graph)."""
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the secret in the link's URL (also the signup's ``state``); the secret is shown once."""
    pin_sealed: Mapped[str] = mapped_column(Text)
    """The two-step verification PIN the number is registered with, sealed."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``processing`` (callback running), ``completed`` or ``failed``; past
    ``expires_at`` a pending link shows as ``expired``."""
    failure_reason: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    client_project_id: Mapped[str | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), default=None
    )
    channel_id: Mapped[str | None] = mapped_column(
        ForeignKey("channels.id", ondelete="SET NULL"), default=None
    )
