"""Meta's Graph API error answer, for both places that answer as Meta does: Kirem's
Graph-compatible paths (:mod:`kirem.api.graph_errors`) and the sandbox (:mod:`kirem.sandbox.errors`).

The body is ``{"error": {"message", "type", "code", "error_subcode"?, "is_transient"?,
"error_user_title"?, "error_user_msg"?, "error_data"?, "fbtrace_id"}}``; WhatsApp's errors carry
``error_data: {"messaging_product": "whatsapp", "details": …}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Self

GRAPH_DOCS = "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"


@dataclass
class GraphFault(Exception):
    """A failure answered in Meta's error body, with the HTTP status Meta answers it with."""

    status: int
    code: int
    message: str
    type: str = "OAuthException"
    subcode: int | None = None
    details: Any = None
    is_transient: bool | None = None
    headers: dict[str, str] = field(default_factory=dict)
    user_title: str | None = None
    user_msg: str | None = None

    def __str__(self) -> str:
        return self.message

    def body(self, fbtrace_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.is_transient is not None:
            error["is_transient"] = self.is_transient
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = fbtrace_id or ""
        return {"error": error}

    @classmethod
    def missing_token(cls) -> Self:
        return cls(
            401,
            104,
            "An access token is required to request this resource.",
            headers={"WWW-Authenticate": www_authenticate("invalid_request", "An access token is required")},
        )

    @classmethod
    def unsupported_request(cls, method: str, object_id: str) -> Self:
        """Meta's answer for an object id that does not exist, is not reachable, or lacks the method."""
        return cls(
            400,
            100,
            f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
            f"loaded due to missing permissions, or does not support this operation. {GRAPH_DOCS}",
            type="GraphMethodException",
            subcode=33,
        )

    @classmethod
    def unknown_path(cls, path: str) -> Self:
        return cls(400, 2500, f"Unknown path components: {path}")

    @classmethod
    def unexpected(cls) -> Self:
        return cls(
            500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True
        )


def www_authenticate(error: str, description: str) -> str:
    """Meta's ``WWW-Authenticate`` header for a refused token."""
    return f'OAuth "Facebook Platform" "{error}" "{description}"'
