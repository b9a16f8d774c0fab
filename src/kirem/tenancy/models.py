"""Accounts, projects, API keys and channels: who owns what."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, CreatedAt, UTCDateTime, new_id


class Account(CreatedAt, Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("acc"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    plan: Mapped[str] = mapped_column(String(32), default="developer")
    limit_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    retention_days_before: Mapped[int | None] = mapped_column(default=None)
    """After a downgrade: the longer retention that what was stored before ``retention_changed_at`` keeps."""
    retention_changed_at: Mapped[datetime | None] = mapped_column(default=None)


class Credential:
    """What account tokens and API keys share besides the secret's hash: its first characters, to
    recognise it by, and when it was last used or revoked."""

    prefix: Mapped[str] = mapped_column(String(32))
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class AccountToken(CreatedAt, Credential, Base):
    __tablename__ = "account_tokens"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("atok"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Project(CreatedAt, Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("prj"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    webhook_secret_sealed: Mapped[str] = mapped_column(Text)
    previous_webhook_secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    ip_allowlist: Mapped[list[Any]] = mapped_column(default=list)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    """Set while the account's plan allows fewer projects: its keys are refused, its channels disabled."""
    """CIDRs allowed to call with this project's keys; empty means any address."""
    egress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Where webhook deliveries leave from: ``bind_address`` and/or ``proxy_sealed`` (scale plan and up)."""
    """After a rotation the old secret keeps signing alongside the new one until this time."""


class ApiKey(CreatedAt, Credential, Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("key"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="default")
    mode: Mapped[str] = mapped_column(String(8))
    """``live`` keys reach every channel; ``test`` keys reach sandbox channels only."""
    scope: Mapped[str] = mapped_column(String(8), default="api")
    """``api``: the REST API and ``/v1/mcp``; ``mcp``: only the project's dedicated MCP endpoint."""
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Channel(CreatedAt, Base):
    __tablename__ = "channels"
    __table_args__ = (Index("ix_channels_project_created", "project_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("chan"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200), default="")
    phone_number_id: Mapped[str] = mapped_column(String(64), unique=True)
    waba_id: Mapped[str] = mapped_column(String(64), index=True)
    display_phone_number: Mapped[str] = mapped_column(String(32), default="")
    access_token_sealed: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_by_plan: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Disabled by a plan change (re-enabled by an upgrade), not disconnected by the user."""
    plan_disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """When the plan disabled it: the webhooks kept for its number since then are processed when an
    upgrade re-enables it (:func:`kirem.inbound.unrouted.take_again`)."""


class DailyUsage(Base):
    """Outbound messages per account per UTC day, counted atomically for the plan quota."""

    __tablename__ = "daily_usage"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    outbound_messages: Mapped[int] = mapped_column(default=0)
