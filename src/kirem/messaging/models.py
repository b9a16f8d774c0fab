"""The message log, stored idempotent responses and the media each project has handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kirem.customers import BSUID_LENGTH
from kirem.db.base import Base, CreatedAt, UTCDateTime, channel_column, new_id, utcnow


class MessageLog(CreatedAt, Base):
    __tablename__ = "message_logs"
    __table_args__ = (
        Index("ix_message_logs_project_created", "project_id", "created_at"),
        Index("ix_message_logs_project_status", "project_id", "status"),
        Index("ix_message_logs_wamid", "message_id"),
        Index("ix_message_logs_conversation", "conversation_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("msg"))
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel_id: Mapped[str | None] = channel_column()
    message_id: Mapped[str | None] = mapped_column(String(255), default=None)
    """Meta's ``wamid.…``; empty when Meta refused the message."""
    recipient: Mapped[str] = mapped_column(String(64), default="")
    """Outbound: the customer's phone number (empty when sent to a BSUID). Inbound: the channel's."""
    recipient_user_id: Mapped[str | None] = mapped_column(String(160), default=None)
    """The business-scoped user id (``US.1349…``) an outbound message was sent to with ``recipient``,
    or (echoes, history) the BSUID of the customer it went to."""
    sender: Mapped[str] = mapped_column(String(BSUID_LENGTH), default="")
    """Inbound: the customer's phone number, else their BSUID (a customer without a number). Outbound:
    the channel's."""
    direction: Mapped[str] = mapped_column(String(8))
    type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    request: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), default=None
    )
    author: Mapped[str] = mapped_column(String(16), default="")
    """Who wrote it: ``customer``, ``api`` (/v1/messages), ``business_app`` (the phone) or ``agent`` (MCP)."""
    text: Mapped[str | None] = mapped_column(Text, default=None)
    """A readable summary for timelines: the text, a caption, a button title, a template name."""
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    """When it happened (Meta's timestamp for inbound, echoed and imported messages)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IdempotencyRecord(CreatedAt, Base):
    """A POST made with an ``Idempotency-Key``: in flight until ``response_body`` is set."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MediaRef(CreatedAt, Base):
    """A Meta media id a project uploaded or received, and the channel whose token reads it."""

    __tablename__ = "media_refs"
    __table_args__ = (UniqueConstraint("project_id", "media_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    media_id: Mapped[str] = mapped_column(String(64))
    mime_type: Mapped[str] = mapped_column(String(128), default="")
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255), default="")


class PendingStatus(Base):
    """A status webhook that arrived before the send that produced its wamid was recorded."""

    __tablename__ = "pending_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
