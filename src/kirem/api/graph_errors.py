"""Meta's error body for every failure on a Graph-compatible path (``/v<major>.<minor>/…``).

``{"error": {"message", "type", "code", "error_subcode"?, "error_data"?, "fbtrace_id"}}`` with
Meta's codes: 104 missing token, 190 bad token, 200 permission, 4 rate, 100 bad parameter or an
object that cannot be used, 2500 unknown path, 2 unexpected. ``fbtrace_id`` is the request id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kirem.api.responses import ApiError, WrappedJSON

VERSION = re.compile(r"^\d+\.\d+$")
_GRAPH_PATH = re.compile(r"^/v\d+\.\d+(/|$)")
_CODES = {401: 190, 403: 200, 429: 4}
_TITLES = {
    100: "Invalid parameter",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
}
"""Meta's titles for the codes of Kirem's own send checks (its error codes reference)."""
GRAPH_DOCS = "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"


def is_graph_path(path: str) -> bool:
    """Graph-compatible mode answers every path under a Meta version prefix, known or not."""
    return _GRAPH_PATH.match(path) is not None


@dataclass
class GraphError(Exception):
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

    def body(self, request_id: str | None) -> dict[str, Any]:
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
        error["fbtrace_id"] = request_id or ""
        return {"error": error}

    def response(self, request_id: str | None) -> WrappedJSON:
        return WrappedJSON(self.body(request_id), status_code=self.status, headers=self.headers or None)


def from_api_error(exc: ApiError) -> GraphError:
    """A Kirem refusal in Meta's terms: Meta's code and title, the field-level errors as
    ``error_data.details`` in Meta's form (one string, ``"field: sentence; …"``). A refusal Meta
    answers with a user-facing title (template creation does) also carries ``error_subcode`` where
    Meta has one, ``is_transient``, ``error_user_title`` and, as ``error_user_msg``, the first field's
    sentence."""
    code = exc.meta_code or _CODES.get(exc.status, 100)
    message = _TITLES.get(exc.meta_code or 0, exc.message)
    error = GraphError(
        exc.status, code, f"(#{code}) {message}", details=_details(exc.errors), headers=exc.headers
    )
    if exc.meta_title is not None:
        error.subcode = exc.meta_subcode
        error.is_transient = False
        error.user_title = exc.meta_title
        error.user_msg = _first_sentence(exc.errors)
    return error


def _first_sentence(errors: Any) -> str | None:
    if isinstance(errors, dict):
        return next((v for v in errors.values() if isinstance(v, str)), None)
    return None


def _details(errors: Any) -> Any:
    if isinstance(errors, dict) and all(isinstance(v, str) for v in errors.values()):
        return "; ".join(f"{field}: {sentence}" for field, sentence in errors.items()) or None
    return errors


def missing_token() -> GraphError:
    return GraphError(
        401,
        104,
        "An access token is required to request this resource.",
        headers={
            "WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_request" "An access token is required"'
        },
    )


def unsupported_request(method: str, object_id: str) -> GraphError:
    """Meta's answer for an object id that does not exist, is not reachable, or lacks the method."""
    return GraphError(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
        f"loaded due to missing permissions, or does not support this operation. {GRAPH_DOCS}",
        type="GraphMethodException",
        subcode=33,
    )


def unsupported_version(version: str) -> GraphError:
    """Meta's answer to a Graph version the WhatsApp Cloud API does not serve (older than v13.0)."""
    return GraphError(
        400,
        2635,
        f"(#2635) You are calling a deprecated version of the Graph API (v{version}). "
        "Please update to v13.0 or later.",
    )


def unknown_path(path: str) -> GraphError:
    return GraphError(400, 2500, f"Unknown path components: {path}")


def unexpected() -> GraphError:
    return GraphError(
        500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True
    )


def meta_unavailable(reason: str) -> GraphError:
    return GraphError(502, 2, "(#2) Meta API is unavailable, try again", details=reason, is_transient=True)


def too_large(limit: int) -> GraphError:
    return GraphError(413, 100, f"(#100) Request body too large (limit {limit} bytes)")


def object_path(path: str) -> str:
    """``/v23.0/123/messages`` → ``/123/messages``: the part Meta names in its errors."""
    return "/" + path.lstrip("/").partition("/")[2]
