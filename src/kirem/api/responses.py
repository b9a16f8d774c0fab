"""The public API's response wrapper: ``{status, message, data}`` or ``{status, message, errors}``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse  # what fastapi.responses re-exports, lighter to import

from kirem.kit.errors import DomainError


class WrappedJSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def ok(
    data: Any,
    message: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> WrappedJSON:
    """Kirem's response wrapper (docs/api.md); ``extra`` adds keys beside ``data`` (a list's ``paging``)."""
    return WrappedJSON(
        {"status": status, "message": message, "data": data, **(extra or {})},
        status_code=status,
        headers=headers,
    )


def error_body(status: int, message: str, errors: Any = None) -> dict[str, Any]:
    return {"status": status, "message": message, "errors": errors if errors is not None else {}}


ApiError = DomainError
"""The HTTP edge's name for a refusal (a route's own, or a service's :mod:`kirem.kit.errors` one)."""


def error_response(exc: DomainError) -> WrappedJSON:
    """A refusal in the error wrapper with its HTTP status and headers."""
    return WrappedJSON(error_body(exc.status, exc.message, exc.errors), exc.status, exc.headers)
