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

from kirem.meta.graph_error import GraphFault, www_authenticate
from kirem.sandbox.ids import fbtrace_id as new_fbtrace_id

log = logging.getLogger("kirem.sandbox")

ERROR_CODES_DOCS = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status_code, media_type="application/json", headers=headers
    )


class MetaError(GraphFault):
    """A failure of the sandbox, answered in Meta's error body with a fresh ``fbtrace_id``."""

    @property
    def status_code(self) -> int:
        return self.status

    def body(self, fbtrace_id: str | None = None) -> dict[str, Any]:
        return super().body(fbtrace_id or new_fbtrace_id())

    def response(self) -> Response:
        return json_response(self.body(), self.status, self.headers or None)


def required_parameter(name: str) -> MetaError:
    return MetaError(400, 100, f"(#100) The parameter {name} is required.")


def invalid_parameter(details: str, *, status_code: int = 400, subcode: int | None = None) -> MetaError:
    return MetaError(status_code, 100, "(#100) Invalid parameter", details=details, subcode=subcode)


def invalid_application() -> MetaError:
    return MetaError(400, 101, "Error validating application. Invalid application ID.")


def not_one_of(param: str, allowed: tuple[str, ...] | list[str], got: object) -> MetaError:
    return MetaError(400, 100, f'(#100) Param {param} must be one of {{{", ".join(allowed)}}} - got "{got}".')


missing_token = MetaError.missing_token
unsupported_request = MetaError.unsupported_request
unknown_path = MetaError.unknown_path
unexpected_error = MetaError.unexpected


def invalid_token() -> MetaError:
    return MetaError(
        401,
        190,
        "Invalid OAuth access token - Cannot parse access token",
        headers={"WWW-Authenticate": www_authenticate("invalid_token", "Invalid OAuth access token")},
    )


def nonexisting_field(field: str, node_type: str) -> MetaError:
    return MetaError(
        400, 100, f"(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"
    )


def rate_limit_hit() -> MetaError:
    return MetaError(
        429, 130429, "(#130429) Rate limit hit", details="Cloud API message throughput has been reached."
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
