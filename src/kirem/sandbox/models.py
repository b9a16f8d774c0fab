"""Tables of the Meta emulator, all prefixed ``sandbox_`` and independent of Kirem's own tables.

Ids are numeric strings like Meta's. Only portable column types are used (SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kirem.db.base import Base, UTCDateTime, utcnow


class SandboxNumber(Base):
    """A provisioned business phone number with its WABA and the hash of its access token."""

    __tablename__ = "sandbox_numbers"

    phone_number_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    waba_id: Mapped[str] = mapped_column(String(20), index=True)
    display_phone_number: Mapped[str] = mapped_column(String(20), unique=True)
    verified_name: Mapped[str] = mapped_column(String(255))
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    business_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    app_subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    """The sandbox app gets this WABA's webhooks (an Embedded Signup number starts without)."""
    registered: Mapped[bool] = mapped_column(Boolean, default=True)
    """Registered for Cloud API messaging (an Embedded Signup number starts unregistered)."""


class SandboxTemplate(Base):
    __tablename__ = "sandbox_templates"
    __table_args__ = (
        UniqueConstraint("waba_id", "name", "language", name="uq_sandbox_templates_waba_name_language"),
    )

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    waba_id: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(20))
    components: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), index=True)
    """PENDING, APPROVED or REJECTED."""
    rejected_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    """When a PENDING template is due for its review; kept so a restart loses no review."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxMedia(Base):
    __tablename__ = "sandbox_media"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    phone_number_id: Mapped[str] = mapped_column(String(20), index=True)
    mime_type: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    """Hex digest of the content."""
    file_size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxWindow(Base):
    """The customer service window: 24 h after a customer's last inbound message to a number."""

    __tablename__ = "sandbox_windows"

    phone_number_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    wa_id: Mapped[str] = mapped_column(String(160), primary_key=True)
    """The customer as a send names them: their phone number's digits, or their BSUID (one row each)."""
    last_inbound_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxMessage(Base):
    """Every message id the sandbox issued, so read receipts can be checked against inbound ids."""

    __tablename__ = "sandbox_messages"
    __table_args__ = (Index("ix_sandbox_messages_number_wa_id", "phone_number_id", "wa_id"),)

    wamid: Mapped[str] = mapped_column(String(128), primary_key=True)
    phone_number_id: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(3))
    """``in`` (customer to business) or ``out`` (business to customer)."""
    wa_id: Mapped[str] = mapped_column(String(160))
    """The customer's phone number, or their BSUID when the message has no phone number."""
    type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SandboxOutbox(Base):
    """A webhook the sandbox owes Kirem, written in the transaction of the change it reports.

    The outbox loop (:mod:`kirem.sandbox.outbox`) posts due rows and deletes them once Kirem answers
    2xx; a failed post is retried with backoff. Rows of one ``lane`` are posted one at a time in
    ``id`` order, so one message's statuses (or one conversation's messages) keep their order.
    """

    __tablename__ = "sandbox_outbox"
    __table_args__ = (
        Index("ix_sandbox_outbox_due_at", "due_at"),
        Index("ix_sandbox_outbox_lane_id", "lane", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    lane: Mapped[str] = mapped_column(String(160))
    body: Mapped[str] = mapped_column(Text)
    """The exact JSON that is signed and posted."""
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    """Not posted before this (a status's configured delay, then the retry backoff)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
