"""Published shapes of the Graph-compatible paths (``/v{version}/…``) and the sandbox: Meta's
answers as they are (no wrapper), open to every field Meta adds (``extra="allow"``), Meta's error
body, and Graph's ways of sending a body. The bodies themselves are ``/v1``'s Meta-shaped models
(:mod:`kirem.messaging.schemas`)."""

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


# Answers (bodies and the other answers are /v1's, :mod:`kirem.messaging.schemas`) --------------


class MediaOrNumber(MetaShaped):
    """A media's metadata (``url``, ``mime_type``, ``sha256``, ``file_size``) or a channel's phone
    number node (``display_phone_number``, ``verified_name``…), as ``fields=`` selects."""

    id: str | None = None


class TemplatePage(MetaShaped):
    data: list[dict[str, Any]]
    paging: dict[str, Any] | None = None


class ProfilePage(MetaShaped):
    data: list[dict[str, Any]]


class GraphSuccess(MetaShaped):
    success: bool
