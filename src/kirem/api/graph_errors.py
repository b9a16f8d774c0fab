"""Meta's error body for every failure on a Graph-compatible path (``/v<major>.<minor>/…``).

``{"error": {"message", "type", "code", "error_subcode"?, "error_data"?, "fbtrace_id"}}`` with
Meta's codes: 104 missing token, 190 bad token, 200 permission, 4 rate, 100 bad parameter or an
object that cannot be used, 2500 unknown path, 2 unexpected. ``fbtrace_id`` is the request id.
"""

from __future__ import annotations

import re
from typing import Any

from kirem.api.responses import ApiError, WrappedJSON
from kirem.meta.graph_error import GraphFault

VERSION = re.compile(r"^\d+\.\d+$")
_GRAPH_PATH = re.compile(r"^/v\d+\.\d+(/|$)")
_CODES = {401: 190, 403: 200, 429: 4}
_TITLES = {
    100: "Invalid parameter",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
}
"""Meta's titles for the codes of Kirem's own send checks (its error codes reference)."""


def is_graph_path(path: str) -> bool:
    """Graph-compatible mode answers every path under a Meta version prefix, known or not."""
    return _GRAPH_PATH.match(path) is not None


class GraphError(GraphFault):
    """A refusal on a Graph-compatible path; its ``fbtrace_id`` is the request id."""

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


missing_token = GraphError.missing_token
unsupported_request = GraphError.unsupported_request
unknown_path = GraphError.unknown_path
unexpected = GraphError.unexpected


def unsupported_version(version: str) -> GraphError:
    """Meta's answer to a Graph version the WhatsApp Cloud API does not serve (older than v13.0)."""
    return GraphError(
        400,
        2635,
        f"(#2635) You are calling a deprecated version of the Graph API (v{version}). "
        "Please update to v13.0 or later.",
    )


def meta_unavailable(reason: str) -> GraphError:
    return GraphError(502, 2, "(#2) Meta API is unavailable, try again", details=reason, is_transient=True)


def too_large(limit: int) -> GraphError:
    return GraphError(413, 100, f"(#100) Request body too large (limit {limit} bytes)")


def object_path(path: str) -> str:
    """``/v23.0/123/messages`` → ``/123/messages``: the part Meta names in its errors."""
    return "/" + path.lstrip("/").partition("/")[2]
