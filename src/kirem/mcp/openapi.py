"""``/v1/mcp`` and ``/v1/mcp/{project_slug}`` in the OpenAPI document.

They are ASGI routes of the MCP SDK's transport (not FastAPI operations), so their path items are
written here: a JSON-RPC request in, a JSON-RPC answer out (a tool's failure is a result with
``isError``), and the credential's refusals in Kirem's error wrapper.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.openapi import add_models
from kirem.api.schemas import JSON, ErrorBody, error_example
from kirem.mcp.transport import DEDICATED_MCP_PATH, MCP_PATH


class JsonRpcRequest(BaseModel):
    """One JSON-RPC 2.0 request (no batches); the seed's ``{"method": "tools/call", "tool": …,
    <arguments>}`` shorthand is taken too."""

    model_config = ConfigDict(extra="allow")

    jsonrpc: Literal["2.0"] = "2.0"
    id: int | str | None = None
    method: str = Field(description="initialize, tools/list, tools/call…")
    params: dict[str, Any] | None = Field(None, description='tools/call: ``{"name": …, "arguments": {…}}``')


class JsonRpcError(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: int
    message: str


class JsonRpcAnswer(BaseModel):
    """``result`` on success, else ``error`` (a parse error, an unknown method, a batch)."""

    model_config = ConfigDict(extra="allow")

    jsonrpc: Literal["2.0"]
    id: int | str | None
    result: dict[str, Any] | None = None
    error: JsonRpcError | None = None


MODELS: tuple[type[BaseModel], ...] = (JsonRpcRequest, JsonRpcAnswer, ErrorBody)
REQUEST_EXAMPLE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "list_conversations", "arguments": {"status": "open"}},
}
ANSWER_EXAMPLE = {
    "jsonrpc": "2.0",
    "id": 1,
    "result": {"content": [{"type": "text", "text": '{"conversations": []}'}], "isError": False},
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _wrapper(status: int, description: str) -> dict[str, Any]:
    content = {JSON: {"schema": _ref(ErrorBody), "example": error_example(status)}}
    return {"description": description, "content": content}


def _rpc_error(description: str, message: str) -> dict[str, Any]:
    example = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}
    return {
        "description": description,
        "content": {JSON: {"schema": _ref(JsonRpcAnswer), "example": example}},
    }


def _operation(operation_id: str, summary: str, security: str, refusals: dict[int, str]) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {
            "description": "The JSON-RPC answer",
            "content": {JSON: {"schema": _ref(JsonRpcAnswer), "example": ANSWER_EXAMPLE}},
        },
        "400": _rpc_error(
            "Not a JSON-RPC request (a batch, malformed JSON)", "Batch requests are not supported"
        ),
        "415": _rpc_error("A Content-Type other than JSON", "Unsupported content type"),
    }
    responses.update({str(status): _wrapper(status, text) for status, text in refusals.items()})
    return {
        "tags": ["mcp"],
        "summary": summary,
        "operationId": operation_id,
        "security": [{security: []}],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": _ref(JsonRpcRequest), "example": REQUEST_EXAMPLE}},
        },
        "responses": dict(sorted(responses.items())),
    }


def add_mcp_paths(document: dict[str, Any]) -> None:
    """Write both MCP endpoints and their models into ``document``."""
    add_models(document, MODELS)
    refusals = {401: "Missing, unknown or revoked API key", 403: "The key may not use MCP", 429: "Rate limit"}
    document["paths"][MCP_PATH] = {
        "post": _operation("mcp", "MCP over Streamable HTTP (stateless JSON-RPC)", "apiKey", refusals)
    }
    dedicated = _operation(
        "dedicated_mcp",
        "A project's dedicated MCP endpoint (enterprise plan; keys of scope mcp)",
        "apiKey",
        {**refusals, 403: "The key is not of scope mcp or not this project's", 404: "No such endpoint"},
    )
    dedicated["parameters"] = [
        {
            "name": "project_slug",
            "in": "path",
            "required": True,
            "description": "The endpoint's slug (PUT /v1/manage/projects/{project_id}/mcp-endpoint)",
            "schema": {"type": "string"},
        }
    ]
    document["paths"][DEDICATED_MCP_PATH] = {"post": dedicated}
