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
from kirem.api.responses import ApiError, WrappedJSON, error_body
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
    return exc.response()


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GraphError)
    async def _graph_error(request: Request, exc: GraphError) -> WrappedJSON:
        return _meta_answer(request, exc)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> WrappedJSON:
        return _api_answer(request, exc)

    @app.exception_handler(MetaApiError)
    async def _meta_error(request: Request, exc: MetaApiError) -> WrappedJSON:
        if _graph(request):
            return WrappedJSON({"error": exc.error}, status_code=exc.http_status)
        return meta_error(exc).response()

    @app.exception_handler(MetaUnavailable)
    async def _meta_unavailable(request: Request, exc: MetaUnavailable) -> WrappedJSON:
        if _graph(request):
            return _meta_answer(request, graph_errors.meta_unavailable(str(exc)))
        return ApiError(502, "Meta API is unavailable, try again", {"meta": str(exc)}).response()

    @app.exception_handler(InvalidGraphId)
    async def _invalid_graph_id(request: Request, exc: InvalidGraphId) -> WrappedJSON:
        return _api_answer(request, ApiError(400, "Validation failed", {"id": str(exc)}))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> WrappedJSON:
        errors = validation_errors(exc)
        message = (
            "Malformed JSON body"
            if errors.get("body") == "Request body is not valid JSON"
            else "Validation failed"
        )
        return _api_answer(request, ApiError(400, message, errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> WrappedJSON:
        return _http_error(request, exc)
