"""Published shapes of ``/v1`` sending, media, templates and profile.

Send bodies are Meta's (Cloud API ``Message``): the models name the fields Kirem checks and stay
open to every other field Meta accepts (``extra="allow"``); :mod:`kirem.messaging.message_rules`,
``template_rules`` and ``profile_rules`` do the checking, with the seed's field messages.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirem.messaging.message_rules import MAX_TEXT_BODY
from kirem.messaging.profile_rules import (
    MAX_ABOUT,
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_EMAIL,
    MAX_WEBSITE,
    MAX_WEBSITES,
)

Open = ConfigDict(extra="allow")

MessageType = Literal[
    "text",
    "template",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
]


class Text(BaseModel):
    model_config = Open

    body: str = Field(max_length=MAX_TEXT_BODY)
    preview_url: bool | None = None


class Context(BaseModel):
    """The message this one replies to."""

    model_config = Open

    message_id: str


class SendMessage(BaseModel):
    """A Meta Cloud API message. Give ``to`` (a phone number) or ``recipient`` (a BSUID), and the
    object named by ``type`` (default ``text``; a lone message object sets the type). Every other
    field Meta accepts passes through to Meta. A body with ``"status": "read"`` is a read receipt."""

    model_config = Open

    messaging_product: Literal["whatsapp"] | None = Field(None, description='"whatsapp" (the default)')
    recipient_type: str | None = Field(None, description='"individual"')
    to: str | None = Field(None, description="The customer's phone number (E.164 digits)")
    recipient: str | None = Field(None, description="The customer's business-scoped user id (BSUID)")
    type: MessageType | None = Field(None, description="Default `text`")
    context: Context | None = None
    biz_opaque_callback_data: str | None = None
    text: Text | None = None
    template: dict[str, Any] | None = Field(None, description="`name`, `language.code`, `components`")
    image: dict[str, Any] | None = Field(None, description="`id` (uploaded media) or `link`, `caption`")
    video: dict[str, Any] | None = Field(None, description="`id` or `link`, `caption`")
    audio: dict[str, Any] | None = Field(None, description="`id` or `link`")
    document: dict[str, Any] | None = Field(None, description="`id` or `link`, `caption`, `filename`")
    sticker: dict[str, Any] | None = Field(None, description="`id` or `link`")
    location: dict[str, Any] | None = Field(None, description="`latitude`, `longitude`, `name`, `address`")
    contacts: list[dict[str, Any]] | None = Field(None, description="Meta's contact cards")
    interactive: dict[str, Any] | None = Field(
        None,
        description="`type` (`button`, `list`, `cta_url`, `flow`, …), `header`, `body`, `footer`, `action`",
    )
    reaction: dict[str, Any] | None = Field(None, description="`message_id`, `emoji`")


class TypingIndicator(BaseModel):
    type: Literal["text"]


class ReadReceipt(BaseModel):
    """Mark an inbound message as read (blue ticks), optionally showing the typing indicator."""

    model_config = Open

    messaging_product: Literal["whatsapp"] | None = None
    message_id: str = Field(min_length=1, description="The inbound message's wamid")
    status: Literal["read"] | None = None
    typing_indicator: TypingIndicator | None = None


class MediaUpload(BaseModel):
    """A multipart upload: the file and Meta's ``messaging_product``."""

    model_config = Open

    file: bytes = Field(description="The file; its part's content type is the media type")
    messaging_product: Literal["whatsapp"] = "whatsapp"
    type: str | None = Field(None, description="The MIME type, when the part does not give it")


class TemplateCreate(BaseModel):
    """A message template in Meta's shape, submitted to Meta for review."""

    model_config = Open

    name: str = Field(description="Lowercase letters, digits and underscores")
    category: str = Field(description="UTILITY, MARKETING or AUTHENTICATION (any case)")
    language: str = Field(description="A language code: `id`, `en_US`, …")
    components: list[dict[str, Any]] = Field(
        description="HEADER, BODY, FOOTER and BUTTONS, as Meta takes them"
    )
    parameter_format: Literal["POSITIONAL", "NAMED"] | None = None


class ProfileUpdate(BaseModel):
    """The business profile fields to change; others Meta accepts pass through to Meta."""

    model_config = Open

    messaging_product: Literal["whatsapp"] | None = None
    about: str | None = Field(None, max_length=MAX_ABOUT)
    address: str | None = Field(None, max_length=MAX_ADDRESS)
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    email: str | None = Field(None, max_length=MAX_EMAIL)
    vertical: str | None = Field(None, description="RETAIL, FINANCE, HEALTH, … (Meta's verticals)")
    websites: list[str] | None = Field(
        None, max_length=MAX_WEBSITES, description=f"Each ≤ {MAX_WEBSITE} characters"
    )
    profile_picture_handle: str | None = None


class SentContact(BaseModel):
    model_config = Open

    input: str | None = None
    wa_id: str | None = None


class SentMessageId(BaseModel):
    model_config = Open

    id: str


class MessageSent(BaseModel):
    """Meta's answer to a send (a read receipt answers ``{"success": true}``)."""

    model_config = Open

    messaging_product: str | None = None
    contacts: list[SentContact] | None = None
    messages: list[SentMessageId] | None = None
    success: bool | None = Field(None, description="Present on a read receipt's answer")


class MediaId(BaseModel):
    id: str


class Template(BaseModel):
    """Meta's template object, with the fields Meta always returns present."""

    model_config = Open

    id: str | None = None
    name: str | None
    status: str | None
    category: str | None
    language: str | None
    parameter_format: str | None
    components: list[dict[str, Any]]


class TemplateCreated(BaseModel):
    id: str
    status: str | None
    category: str | None


class Profile(BaseModel):
    model_config = Open

    about: str | None = None
    address: str | None = None
    description: str | None = None
    email: str | None = None
    vertical: str | None = None
    websites: list[str] | None = None
    profile_picture_url: str | None = None


SENT_EXAMPLE = {
    "status": 201,
    "message": "Message sent successfully",
    "data": {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "62812345678", "wa_id": "62812345678"}],
        "messages": [{"id": "wamid.HBgLNjI4MTIzNDU2NzhGFgQ0NDMzMzc3RUQ1OEFG"}],
    },
}
SEND_EXAMPLES = {
    "text": {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6282360419136",
        "type": "text",
        "text": {"body": "Halo dari Kirem!"},
    },
    "template": {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6282360419136",
        "type": "template",
        "template": {
            "name": "otp_verification",
            "language": {"code": "id"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "123456"}]}],
        },
    },
}
READ_EXAMPLE = {"messaging_product": "whatsapp", "message_id": "wamid.HBgNNjI4MTIzNDU2Nzg5MBcGAgQRFRMyFAA="}
MEDIA_EXAMPLE = {"status": 200, "message": "Media uploaded successfully", "data": {"id": "1049284050215893"}}
TEMPLATES_EXAMPLE = {
    "status": 200,
    "message": "Templates retrieved successfully",
    "data": [
        {
            "name": "otp_verification",
            "status": "APPROVED",
            "category": "AUTHENTICATION",
            "language": "id",
            "components": [{"type": "BODY", "text": "Kode keamanan OTP Kirem Anda adalah: {{1}}."}],
            "id": "18491849184919",
        }
    ],
}
TEMPLATE_EXAMPLE = {
    "name": "notif_pesanan_baru",
    "category": "UTILITY",
    "language": "id",
    "components": [
        {
            "type": "BODY",
            "text": "Halo {{1}}, terima kasih telah berbelanja di {{2}}!\n\n"
            "Pesanan #{{3}} telah kami terima.\nTotal: Rp {{4}}\n\nKami akan segera memproses pesanan Anda.",
        }
    ],
}
TEMPLATE_CREATED_EXAMPLE = {
    "status": 200,
    "message": "Template created successfully",
    "data": {"id": "194819481948194", "status": "PENDING", "category": "UTILITY"},
}
TEMPLATE_DELETED_EXAMPLE = {
    "status": 200,
    "message": "Template deleted successfully",
    "data": {"success": True},
}
PROFILE_EXAMPLE = {
    "status": 200,
    "message": "Business profile retrieved successfully",
    "data": {
        "about": "Solusi Komunikasi Bisnis Terbaik",
        "address": "Gedung Cyber 2, Lt. 15, Jakarta Selatan",
        "description": "Kirem adalah platform WhatsApp Business API Developer Terpercaya.",
        "email": "support@kirem.co.id",
        "vertical": "RETAIL",
        "websites": ["https://kirem.co.id", "https://docs.kirem.co.id"],
        "profile_picture_url": "https://pps.whatsapp.net/v/t61.24694-24/...",
    },
}
PROFILE_UPDATE_EXAMPLE = {
    "about": "Solusi Komunikasi Bisnis Terpadu",
    "address": "Gedung Cyber 2, Lt. 17, Jakarta Selatan",
    "description": "Kirem menyediakan API WhatsApp handal untuk integrasi enterprise.",
    "email": "help@kirem.id",
    "vertical": "RETAIL",
    "websites": ["https://kirem.id", "https://kirem.id/blog"],
}
PROFILE_UPDATED_EXAMPLE = {
    "status": 200,
    "message": "Business profile updated successfully",
    "data": {"success": True},
}
