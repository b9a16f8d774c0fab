"""The public API's response wrapper: ``{status, message, data}`` or ``{status, message, errors}``."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse  # what fastapi.responses re-exports, lighter to import


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


class ApiError(Exception):
    """Raised anywhere below a route; rendered in the error wrapper with its HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: Any = None,
        headers: dict[str, str] | None = None,
        meta_code: int | None = None,
        meta_subcode: int | None = None,
        meta_title: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.meta_code = meta_code
        """Meta's error code for this refusal on Graph-compatible paths (else one per HTTP status)."""
        self.meta_subcode = meta_subcode
        self.meta_title = meta_title
        """Meta's ``error_subcode`` and ``error_user_title`` for this refusal, where Meta gives them."""

    def response(self) -> WrappedJSON:
        return WrappedJSON(error_body(self.status, self.message, self.errors), self.status, self.headers)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def invalid(
    errors: dict[str, str],
    message: str = "Validation failed",
    meta_code: int | None = None,
    meta_subcode: int | None = None,
    meta_title: str | None = None,
) -> ApiError:
    return ApiError(
        400, message, errors, meta_code=meta_code, meta_subcode=meta_subcode, meta_title=meta_title
    )
