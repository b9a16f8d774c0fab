"""The app's OpenAPI document, as Kirem really answers: no FastAPI 422 (validation failures leave
as 400 in the error wrapper), the request-body models of :mod:`kirem.api.schemas`, a bearer scheme
per kind of credential (declared by the authenticating dependencies, :mod:`kirem.api.schemas`)
and a description per tag."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from kirem.api.schemas import request_models

REF_TEMPLATE = "#/components/schemas/{model}"

TAGS: list[dict[str, str]] = [
    {"name": "messaging", "description": "Send messages, mark them read, media, templates, business profile"},
    {
        "name": "conversations",
        "description": "Conversations, their timelines and the 24-hour window; contacts",
    },
    {
        "name": "webhooks",
        "description": "Webhook targets (your endpoints) and the rules that route events to them",
    },
    {"name": "deliveries", "description": "Deliveries of events to targets, their attempts, and replay"},
    {"name": "analytics", "description": "Message and webhook logs, filtered and paginated (plan feature)"},
    {"name": "usage", "description": "What a project or account used and what it costs"},
    {"name": "health", "description": "Liveness and readiness of this process"},
    {"name": "meta webhooks", "description": "Where Meta posts its webhooks (signed with the app secret)"},
    {"name": "management", "description": "Projects, API keys, channels and plans of an account"},
    {"name": "operator", "description": "Accounts and plans, for whoever runs this Kirem"},
    {"name": "setup links", "description": "Customer Setup Links: a customer connects their own number"},
    {"name": "graph-compatible", "description": "Meta's Cloud API paths (`/v{version}/…`), for Meta's SDKs"},
    {"name": "mcp", "description": "The MCP server: JSON-RPC over Streamable HTTP, for AI agents"},
    {
        "name": "sandbox",
        "description": "The Meta emulator (`KIREM_SANDBOX`): its Graph paths and the customer simulator",
    },
]


def _drop_validation_errors(document: dict[str, Any]) -> None:
    """FastAPI lists a 422 ``HTTPValidationError`` on every operation with inputs; Kirem never sends
    one (validation failures are 400s in the error wrapper, declared by each route). A route's own
    422 (a reused Idempotency-Key, in the error wrapper) stays."""
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict):
                continue
            responses = operation.get("responses", {})
            if "HTTPValidationError" in str(responses.get("422", {})):
                del responses["422"]
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def add_models(document: dict[str, Any], models: Iterable[type[BaseModel]], mode: str = "validation") -> None:
    """Write ``models`` (and the models they use) into ``components.schemas`` by class name."""
    listed = [(model, mode) for model in models]
    if not listed:
        return
    _, top = models_json_schema(listed, ref_template=REF_TEMPLATE)  # type: ignore[arg-type]
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are named {name}: rename a request model")


def _add_request_models(document: dict[str, Any]) -> None:
    add_models(document, request_models().values())


Completion = Callable[[dict[str, Any]], None]
"""Adds what FastAPI's routes cannot say to the document (raw ASGI routes, a mounted app)."""


def mounted(prefix: str, app: FastAPI, tag: str) -> Completion:
    """The operations of ``app``, mounted at ``prefix``, under ``tag``, with their components."""

    def complete(document: dict[str, Any]) -> None:
        part = get_openapi(title=app.title, version=app.version, routes=app.routes)
        for path, item in part.get("paths", {}).items():
            for operation in item.values():
                operation["tags"] = [tag]
                operation["operationId"] = f"{tag}_{operation['operationId']}"
            document["paths"][prefix + path] = item
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            schemas.setdefault(name, schema)

    return complete


def install_openapi(
    app: FastAPI,
    *,
    tags: list[dict[str, str]] | None = None,
    servers: list[dict[str, str]] | None = None,
    completions: Sequence[Completion] = (),
) -> None:
    """Serve the app's document at its ``openapi_url``, built once, on first request: FastAPI's,
    completed by ``completions``, without FastAPI's 422 and with the request-body models."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=tags,
                servers=servers,
            )
            for complete in completions:
                complete(document)
            _drop_validation_errors(document)
            _add_request_models(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
