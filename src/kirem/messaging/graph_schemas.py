"""Published shapes of the Graph-compatible paths (``/v{version}/…``): Meta's bodies and answers,
open to every field Meta accepts or adds (``extra="allow"``), and Meta's error body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.schemas import JSON, request_body

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


class MetaShaped(BaseModel):
    model_config = ConfigDict(extra="allow")


class GraphErrorDetail(MetaShaped):
    message: str
    type: str = Field(description="OAuthException, GraphMethodException…")
    code: int = Field(description="Meta's code: 100 parameter, 104/190 token, 200 permission, 4 rate…")
    error_subcode: int | None = None
    error_user_title: str | None = None
    error_user_msg: str | None = None
    error_data: dict[str, Any] | None = None
    is_transient: bool | None = None
    fbtrace_id: str = Field(description="Kirem's request id")


class GraphErrorBody(BaseModel):
    """Meta's error body: every refusal on a Graph-compatible path."""

    error: GraphErrorDetail


_GRAPH_ERRORS: dict[int, tuple[str, str, int, str]] = {
    400: ("Invalid parameter", "OAuthException", 100, "(#100) Invalid parameter"),
    401: ("Missing or invalid token", "OAuthException", 190, "Invalid OAuth access token"),
    403: ("The key may not use this object", "OAuthException", 200, "(#200) Permission denied"),
    404: ("No such object in this project", "OAuthException", 100, "(#100) Object not found"),
    413: ("Request body too large", "OAuthException", 100, "(#100) Request body too large"),
    415: ("Unsupported content type", "OAuthException", 100, "(#100) Unsupported content type"),
    429: ("Rate limit or quota exceeded", "OAuthException", 4, "(#4) Application request limit reached"),
    502: ("Meta is unavailable", "OAuthException", 2, "(#2) Meta API is unavailable, try again"),
}


def graph_responses(*status_codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries of a Graph-compatible route: each code in Meta's error body."""
    entries: dict[int | str, dict[str, Any]] = {}
    for code in status_codes:
        description, kind, meta_code, message = _GRAPH_ERRORS[code]
        example = {"error": {"message": message, "type": kind, "code": meta_code, "fbtrace_id": "AbC123"}}
        entries[code] = {
            "model": GraphErrorBody,
            "description": description,
            "content": {JSON: {"example": example}},
        }
    return entries


GRAPH_AUTHENTICATED = (400, 401, 403, 404, 429)
"""What any Graph-compatible route may answer: a bad id or version, a token refused, rate limits."""


def graph_body(model: type[BaseModel], example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra=`` of a Graph POST: JSON or form fields (JSON-valued ones as JSON text)."""
    extra = request_body(model, example)
    content = extra["requestBody"]["content"]
    content.update({media_type: {"schema": content[JSON]["schema"]} for media_type in FORMS})
    return extra


# Bodies ------------------------------------------------------------------------------------


class SendMessage(MetaShaped):
    """Meta's ``Message``: ``type`` and the object of that type (``text``, ``template``, ``image``…)."""

    messaging_product: str = Field("whatsapp", description="whatsapp")
    recipient_type: str | None = Field(None, description="individual or group")
    to: str | None = Field(None, description="The customer's number (or use recipient)")
    recipient: str | None = Field(None, description="A business-scoped user id (BSUID)")
    type: str = Field("text", description="text, template, image, interactive, reaction…")
    context: dict[str, Any] | None = Field(None, description="``message_id`` to reply to")
    biz_opaque_callback_data: str | None = None


class MediaUpload(BaseModel):
    file: bytes = Field(json_schema_extra={"format": "binary"})
    messaging_product: str = "whatsapp"
    type: str | None = Field(None, description="The file's MIME type")


class TemplateCreate(MetaShaped):
    name: str
    category: str = Field(description="UTILITY, MARKETING or AUTHENTICATION")
    language: str = Field(description="id, en_US…")
    components: list[dict[str, Any]]
    parameter_format: str | None = Field(None, description="positional or named")


class ProfileUpdate(MetaShaped):
    messaging_product: str = "whatsapp"
    about: str | None = None
    address: str | None = None
    description: str | None = None
    email: str | None = None
    profile_picture_handle: str | None = None
    vertical: str | None = None
    websites: list[str] | None = None


# Answers -----------------------------------------------------------------------------------


class SentMessage(MetaShaped):
    messaging_product: str
    contacts: list[dict[str, Any]] = Field(description="``input`` and ``wa_id`` of each recipient")
    messages: list[dict[str, Any]] = Field(description="``id`` (the wamid) of each message")


class MediaId(MetaShaped):
    id: str


class MediaOrNumber(MetaShaped):
    """A media's metadata (``url``, ``mime_type``, ``sha256``, ``file_size``) or a channel's phone
    number node (``display_phone_number``, ``verified_name``…), as ``fields=`` selects."""

    id: str | None = None


class TemplatePage(MetaShaped):
    data: list[dict[str, Any]]
    paging: dict[str, Any] | None = None


class CreatedTemplate(MetaShaped):
    id: str
    status: str | None = None
    category: str | None = None


class ProfilePage(MetaShaped):
    data: list[dict[str, Any]]


class GraphSuccess(MetaShaped):
    success: bool


SEND_EXAMPLE = {
    "messaging_product": "whatsapp",
    "recipient_type": "individual",
    "to": "6282360419136",
    "type": "text",
    "text": {"body": "Halo dari Kirem!"},
}
"""The seed's send body."""
TEMPLATE_EXAMPLE = {
    "name": "notif_pesanan_baru",
    "category": "UTILITY",
    "language": "id",
    "components": [
        {
            "type": "BODY",
            "text": "Halo {{1}}, terima kasih telah berbelanja di {{2}}!\n\nPesanan #{{3}} telah kami "
            "terima.\nTotal: Rp {{4}}\n\nKami akan segera memproses pesanan Anda.",
        }
    ],
}
"""The seed's template."""
PROFILE_EXAMPLE = {
    "about": "Solusi Komunikasi Bisnis Terpadu",
    "address": "Gedung Cyber 2, Lt. 17, Jakarta Selatan",
    "description": "Kirem menyediakan API WhatsApp handal untuk integrasi enterprise.",
    "email": "help@kirem.id",
    "vertical": "RETAIL",
    "websites": ["https://kirem.id", "https://kirem.id/blog"],
}
"""The seed's business profile update."""
