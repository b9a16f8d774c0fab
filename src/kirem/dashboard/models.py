"""Dashboard people and their web sessions: users, project roles, sessions, login throttles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, CreatedAt, UTCDateTime, new_id

ROLES = ("owner", "developer", "agent")
"""Per-project roles, strongest first: an owner manages everything, a developer everything but
people, an agent only answers conversations in the inbox."""


class DashboardUser(CreatedAt, Base):
    """A person who signs in with an email and a password (Argon2id hash) to one account."""

    __tablename__ = "dashboard_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("usr"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    account_owner: Mapped[bool] = mapped_column(default=False, server_default=false())
    """An account owner is owner of every project of the account, present and future."""


class ProjectMembership(CreatedAt, Base):
    """A user's role on one project (account owners need none)."""

    __tablename__ = "dashboard_memberships"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))


class WebSession(CreatedAt, Base):
    """A signed-in browser. Only the SHA-256 of the cookie's random id is stored."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_expires_at", "expires_at"),)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("dashboard_users.id", ondelete="CASCADE"), index=True, default=None
    )
    operator: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Signed in with the operator token: sees every account."""
    csrf_token: Mapped[str] = mapped_column(String(64))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed sign-ins counted per email and per client address; a key over the limit is locked."""

    __tablename__ = "dashboard_login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
