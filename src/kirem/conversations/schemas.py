"""Published shapes of ``/v1/conversations`` and ``/v1/contacts`` (built by
:mod:`kirem.conversations.service`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirem.delivery.schemas import Page
from kirem.messaging.message_rules import MAX_TEXT_BODY
from kirem.messaging.schemas import SendMessage, Text

ConversationStatus = Literal["open", "pending", "resolved", "on_hold"]


class Conversation(BaseModel):
    id: str
    status: ConversationStatus
    customer_phone: str | None
    customer_user_id: str | None = Field(description="The customer's BSUID, when Meta gave one")
    customer_parent_user_id: str | None
    customer_username: str | None
    customer_name: str | None
    channel_id: str
    last_customer_message_at: str | None
    window_open: bool = Field(description="Within 24 hours of the customer's last message")
    human_active_until: str | None = Field(description="A person answers from the phone app until then")
    updated_at: str | None
    created_at: str | None


class TimelineEntry(BaseModel):
    id: str
    message_id: str | None
    sender: str = Field(description="`customer`, `api`, `phone` (an echo from the app), `agent`, …")
    direction: Literal["inbound", "outbound"]
    type: str | None
    text: str | None
    status: str
    error_message: str | None
    created_at: str | None


class Timeline(Page):
    messages: list[TimelineEntry] = Field(description="Oldest first")


class ConversationDetail(Conversation):
    timeline: Timeline


class ConversationPage(Page):
    conversations: list[Conversation]


class ConversationUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ConversationStatus


class Reply(SendMessage):
    """A message to the conversation's customer: Meta's message body without ``to``, or
    ``{"text": "…"}`` for a plain text reply. Outside the 24-hour window only a template is sent."""

    text: Text | Annotated[str, Field(max_length=MAX_TEXT_BODY)] | None = Field(  # type: ignore[assignment]
        None, description='Meta\'s text object, or the reply\'s text itself (`{"text": "Halo"}`)'
    )


class Contact(BaseModel):
    wa_id: str | None
    user_id: str | None
    username: str | None
    full_name: str | None
    first_name: str | None
    channel_id: str
    updated_at: str | None


class ContactPage(Page):
    contacts: list[Contact]
