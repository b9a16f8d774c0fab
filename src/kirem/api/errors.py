"""Every failure leaves in the error wrapper: framework errors, bad JSON, and anything unexpected.

On Graph-compatible paths (``/v<major>.<minor>/…``) the same failures leave in Meta's error body.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from kirem.api import graph_errors
from kirem.api.graph_errors import GraphError, is_graph_path
from kirem.api.responses import ApiError, WrappedJSON, error_body, error_response
from kirem.meta.client import InvalidGraphId, MetaApiError, MetaUnavailable

_HTTP_MESSAGES = {
    404: "Route not found",
    405: "Method not allowed",
    413: "Request body too large",
    415: "Unsupported content type",
}


def meta_error(exc: MetaApiError) -> ApiError:
    """Meta's error, wrapped: Meta's message and code kept, with the HTTP status Meta gave."""
    err = exc.error
    errors: dict[str, Any] = {
        "message": err.get("message"),
        "type": err.get("type"),
        "code": err.get("code"),
        "error_subcode": err.get("error_subcode"),
    }
    if err.get("error_data"):
        errors["error_data"] = err["error_data"]
    if err.get("fbtrace_id"):
        errors["fbtrace_id"] = err["fbtrace_id"]
    return ApiError(exc.http_status, exc.message, errors)


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            return {"body": "Request body is not valid JSON"}
        errors.setdefault(_location(item.get("loc", ())), str(item.get("msg", "invalid value")))
    return errors


def _graph(request: Request) -> bool:
    return is_graph_path(request.scope["path"])


def _meta_answer(request: Request, error: GraphError) -> WrappedJSON:
    return error.response(request.scope.get("state", {}).get("request_id"))


def _http_error(request: Request, exc: StarletteHTTPException) -> WrappedJSON:
    if _graph(request):
        path = graph_errors.object_path(request.scope["path"])
        if exc.status_code == 404:
            return _meta_answer(request, graph_errors.unknown_path(path))
        if exc.status_code == 405:
            object_id = path.strip("/").partition("/")[0]
            return _meta_answer(request, graph_errors.unsupported_request(request.method, object_id))
        detail = exc.detail if isinstance(exc.detail, str) else "Request failed"
        return _meta_answer(request, GraphError(exc.status_code, 100, f"(#100) {detail}"))
    message = (
        exc.detail
        if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed")
        else None
    )
    status = exc.status_code
    body = error_body(status, message or _HTTP_MESSAGES.get(status, "Request failed"))
    return WrappedJSON(body, status_code=status, headers=getattr(exc, "headers", None))


def _api_answer(request: Request, exc: ApiError) -> WrappedJSON:
    if _graph(request):
        return _meta_answer(request, graph_errors.from_api_error(exc))
    return error_response(exc)


def error_answer(request: Request, exc: Exception) -> WrappedJSON | None:
    """The app's answer to ``exc``: the error wrapper, or Meta's error body on Graph-compatible
    paths; ``None`` for an exception no handler knows (a bug: the app's edge answers 500)."""
    if isinstance(exc, GraphError):
        return _meta_answer(request, exc)
    if isinstance(exc, ApiError):
        return _api_answer(request, exc)
    if isinstance(exc, MetaApiError):
        if _graph(request):
            return WrappedJSON({"error": exc.error}, status_code=exc.http_status)
        return error_response(meta_error(exc))
    if isinstance(exc, MetaUnavailable):
        if _graph(request):
            return _meta_answer(request, graph_errors.meta_unavailable(str(exc)))
        return error_response(ApiError(502, "Meta API is unavailable, try again", {"meta": str(exc)}))
    if isinstance(exc, InvalidGraphId):
        return _api_answer(request, ApiError(400, "Validation failed", {"id": str(exc)}))
    if isinstance(exc, RequestValidationError):
        errors = validation_errors(exc)
        message = (
            "Malformed JSON body"
            if errors.get("body") == "Request body is not valid JSON"
            else "Validation failed"
        )
        return _api_answer(request, ApiError(400, message, errors))
    if isinstance(exc, StarletteHTTPException):
        return _http_error(request, exc)
    return None


HANDLED = (
    GraphError,
    ApiError,
    MetaApiError,
    MetaUnavailable,
    InvalidGraphId,
    RequestValidationError,
    StarletteHTTPException,
)
"""The exceptions :func:`error_answer` answers (none is a subclass of another)."""


async def _handle(request: Request, exc: Exception) -> WrappedJSON:
    answer = error_answer(request, exc)
    if answer is None:
        raise exc
    return answer


def install_error_handlers(app: FastAPI) -> None:
    for kind in HANDLED:
        app.add_exception_handler(kind, _handle)
