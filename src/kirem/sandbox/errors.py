"""Meta's Graph API error body, and handlers so that every failure of the sandbox answers in it.

The body is ``{"error": {"message", "type", "code", "error_subcode"?, "error_data"?, "fbtrace_id"}}``;
WhatsApp errors carry ``error_data: {"messaging_product": "whatsapp", "details": …}``. FastAPI's own
bodies (``{"detail": …}``) and bare 500 pages never leave the sandbox.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kirem.sandbox.ids import fbtrace_id

log = logging.getLogger("kirem.sandbox")

GRAPH_DOCS = "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
ERROR_CODES_DOCS = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status_code, media_type="application/json", headers=headers
    )


class MetaError(Exception):
    """A failure answered in Meta's error body with the HTTP status Meta uses for it."""

    def __init__(
        self,
        status_code: int,
        code: int,
        message: str,
        *,
        type_: str = "OAuthException",
        subcode: int | None = None,
        details: str | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        is_transient: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.type = type_
        self.subcode = subcode
        self.details = details
        self.user_title = user_title
        self.user_msg = user_msg
        self.is_transient = is_transient
        self.headers = headers

    def body(self) -> dict[str, Any]:
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
        error["fbtrace_id"] = fbtrace_id()
        return {"error": error}

    def response(self) -> Response:
        return json_response(self.body(), self.status_code, self.headers)


def required_parameter(name: str) -> MetaError:
    return MetaError(400, 100, f"(#100) The parameter {name} is required.")


def invalid_parameter(details: str, *, status_code: int = 400, subcode: int | None = None) -> MetaError:
    return MetaError(status_code, 100, "(#100) Invalid parameter", details=details, subcode=subcode)


def not_one_of(param: str, allowed: tuple[str, ...] | list[str], got: object) -> MetaError:
    return MetaError(400, 100, f'(#100) Param {param} must be one of {{{", ".join(allowed)}}} - got "{got}".')


def _www_authenticate(error: str, description: str) -> str:
    return f'OAuth "Facebook Platform" "{error}" "{description}"'


def missing_token() -> MetaError:
    return MetaError(
        401,
        104,
        "An access token is required to request this resource.",
        headers={"WWW-Authenticate": _www_authenticate("invalid_request", "An access token is required")},
    )


def invalid_token() -> MetaError:
    return MetaError(
        401,
        190,
        "Invalid OAuth access token - Cannot parse access token",
        headers={"WWW-Authenticate": _www_authenticate("invalid_token", "Invalid OAuth access token")},
    )


def unsupported_request(method: str, object_id: str) -> MetaError:
    return MetaError(
        400,
        100,
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, cannot be "
        f"loaded due to missing permissions, or does not support this operation. {GRAPH_DOCS}",
        type_="GraphMethodException",
        subcode=33,
    )


def unknown_path(path: str) -> MetaError:
    return MetaError(400, 2500, f"Unknown path components: {path}")


def nonexisting_field(field: str, node_type: str) -> MetaError:
    return MetaError(
        400, 100, f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"
    )


def rate_limit_hit() -> MetaError:
    return MetaError(
        429, 130429, "(#130429) Rate limit hit", details="Cloud API message throughput has been reached."
    )


def unexpected_error() -> MetaError:
    return MetaError(
        500, 2, "An unexpected error has occurred. Please retry your request later.", is_transient=True
    )


async def _meta_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, MetaError)
    return exc.response()


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    if exc.status_code == 404:
        return unknown_path(path).response()
    if exc.status_code == 405:
        segments = [s for s in path.split("/") if s]
        object_id = segments[1] if len(segments) > 1 else (segments[0] if segments else "")
        return unsupported_request(request.method, object_id).response()
    status = exc.status_code if 400 <= exc.status_code < 500 else 400
    return MetaError(status, 100, str(exc.detail)).response()


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


async def _validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    details = "; ".join(f"{_location(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in errors[:5])
    return invalid_parameter(details or "Invalid request").response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MetaError, _meta_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_middleware(ErrorGuard)


class ErrorGuard:
    """Turns an unexpected exception into Meta's transient error body instead of a stack trace page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("sandbox request failed: %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await unexpected_error().response()(scope, receive, send)
