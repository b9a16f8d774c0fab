"""Conversations (one per channel and customer) and the contacts a coexistence phone shares.

A customer is named by a phone number and/or a business-scoped user id (BSUID): each row holds
whichever Meta has shown, at least one of the two, and either one finds it (both are unique per
channel).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kirem.customers import BSUID_LENGTH, USERNAME_LENGTH
from kirem.db.base import Base, CreatedAt, UTCDateTime, new_uuid, utcnow
from kirem.kit.enums import ConversationStatus

CONVERSATION_STATUSES: tuple[str, ...] = tuple(ConversationStatus)


class Conversation(CreatedAt, Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("channel_id", "customer_wa_id"),
        UniqueConstraint("channel_id", "customer_user_id", name="uq_conversations_channel_user_id"),
        Index("ix_conversations_project_status_updated", "project_id", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    customer_wa_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The customer's phone number (ASCII digits); None while only their BSUID is known."""
    customer_user_id: Mapped[str | None] = mapped_column(String(BSUID_LENGTH), default=None)
    """The customer's business-scoped user id (``US.1349…``), once Meta has shown it."""
    customer_parent_user_id: Mapped[str | None] = mapped_column(String(BSUID_LENGTH), default=None)
    customer_username: Mapped[str | None] = mapped_column(String(USERNAME_LENGTH), default=None)
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    last_customer_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """The customer's last message: Meta's 24-hour service window runs from here."""
    human_active_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    """Set when the owner answers from the phone app: AI agents hold back until then."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelContact(Base):
    """A contact of the WhatsApp Business app on a coexistence number (``smb_app_state_sync``)."""

    __tablename__ = "channel_contacts"
    __table_args__ = (
        UniqueConstraint("channel_id", "wa_id"),
        UniqueConstraint("channel_id", "user_id", name="uq_channel_contacts_channel_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    wa_id: Mapped[str | None] = mapped_column(String(32), default=None)
    """The contact's phone number; None for a contact known by BSUID only."""
    user_id: Mapped[str | None] = mapped_column(String(BSUID_LENGTH), default=None)
    username: Mapped[str | None] = mapped_column(String(USERNAME_LENGTH), default=None)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
