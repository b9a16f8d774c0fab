"""``POST /v1/mcp``: the API key checked, then the SDK's Streamable HTTP transport (stateless, JSON).

``POST /v1/mcp/{project_slug}`` (a project's dedicated endpoint, enterprise plan) is the same
endpoint with another check of the caller: :func:`kirem.enterprise.mcp_endpoints.dedicated_tenant`.

The host app routes exactly ``/v1/mcp`` here (a ``Route``, not a ``Mount``: no redirect to
``/v1/mcp/``) and runs :meth:`McpEndpoint.run` in its own lifespan, since the SDK's session manager
needs a task group and a mounted app's lifespan never runs.

Before the SDK sees a request:

- the ``Authorization: Bearer <project API key>`` is checked exactly as for the REST API
  (:func:`kirem.api.deps.get_tenant`: 401 in the error wrapper with ``WWW-Authenticate``, 429 from
  the per-key rate limit);
- a POST without ``Accept`` (Go's ``net/http`` sends none) or without ``Content-Type`` is taken as
  JSON, so plain curl calls and bare clients are not refused with 406/415; a ``Content-Type``
  naming another media type is a 415 JSON-RPC error (the SDK would answer a plain-text 400);
- a JSON array (a JSON-RPC batch, which MCP does not carry) gets a JSON-RPC "invalid request";
- the shorthand ``{"method": "tools/call", "tool": "list_conversations", "status": "open"}`` (docs/mcp.md)
  is read as ``params: {"name": "list_conversations", "arguments": {"status": "open"}}``.

Stateless mode needs no ``initialize`` first and no ``Mcp-Session-Id``: each POST is answered on its
own, with a plain ``{"jsonrpc": "2.0", "result" | "error", "id"}`` body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from kirem.api.deps import get_tenant
from kirem.api.responses import ApiError
from kirem.context import AppContext
from kirem.enterprise.mcp_endpoints import EndpointLimiters, dedicated_tenant
from kirem.mcp.caller import Caller, reset_caller, set_caller
from kirem.mcp.server import KiremMCPServer, create_mcp_server

MCP_PATH = "/v1/mcp"
DEDICATED_MCP_PATH = MCP_PATH + "/{project_slug}"
JSON = b"application/json"
INVALID_REQUEST = -32600
_ENVELOPE_KEYS = frozenset({"jsonrpc", "method", "tool", "id", "params", "arguments"})


def jsonrpc_error(code: int, message: str, status: int = 400) -> Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _shorthand(message: dict[str, Any]) -> dict[str, Any] | None:
    """The shorthand ``{"method": "tools/call", "tool": …, <arguments>}`` as a JSON-RPC request."""
    if (
        message.get("method") != "tools/call"
        or "params" in message
        or not isinstance(message.get("tool"), str)
    ):
        return None
    arguments = {key: value for key, value in message.items() if key not in _ENVELOPE_KEYS}
    if isinstance(message.get("arguments"), dict):
        arguments.update(message["arguments"])
    return {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "params": {"name": message["tool"], "arguments": arguments},
        "id": message.get("id", 1),
    }


def prepare_body(body: bytes) -> bytes | Response:
    """The body to hand to the SDK, or an answer given here (a batch)."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body  # the SDK answers -32700 Parse error
    if isinstance(message, list):
        return jsonrpc_error(
            INVALID_REQUEST, "Batch requests are not supported: send one JSON-RPC request per POST"
        )
    if isinstance(message, dict) and (rewritten := _shorthand(message)) is not None:
        return orjson.dumps(rewritten)
    return body


def declared_non_json(content_type: str | None) -> bool:
    """A ``Content-Type`` that names another media type (an absent or blank one is taken as JSON)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return bool(media_type) and media_type != JSON.decode()


def _headers(scope: Scope, body_length: int) -> list[tuple[bytes, bytes]]:
    headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
    names = {k for k, v in headers if v.strip()}
    headers = [(k, v) for k, v in headers if v.strip() or k not in (b"accept", b"content-type")]
    if b"accept" not in names:
        headers.append((b"accept", JSON))
    if b"content-type" not in names:
        headers.append((b"content-type", JSON))
    headers.append((b"content-length", str(body_length).encode()))
    return headers


class McpEndpoint:
    """The ASGI endpoint of ``/v1/mcp`` and ``/v1/mcp/{project_slug}`` for one app (one SDK session
    manager, run once)."""

    def __init__(self, ctx: AppContext, server: KiremMCPServer | None = None) -> None:
        self.ctx = ctx
        self.server = server or create_mcp_server()
        self.server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            max_request_body_size=ctx.settings.max_body_bytes,
            # the API key is the protection here; Host checks would break every public deployment
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        self.sessions = self.server.session_manager
        self.limiters = EndpointLimiters()
        self.running = False

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """The SDK's task group; enter it in the host app's lifespan."""
        async with self.sessions.run():
            self.running = True
            try:
                yield
            finally:
                self.running = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if not self.running:
            error = ApiError(
                503, "The MCP endpoint is not running yet", {"mcp": "the app's lifespan has not started"}
            )
            await error.response()(scope, receive, send)
            return
        slug = request.path_params.get("project_slug")
        try:
            async with self.ctx.db.session() as session:
                if slug is None:
                    tenant = await get_tenant(request, self.ctx, session)
                else:
                    tenant = await dedicated_tenant(request, self.ctx, session, slug, self.limiters)
        except ApiError as exc:
            await exc.response()(scope, receive, send)
            return

        if declared_non_json(request.headers.get("content-type")):
            refused = jsonrpc_error(
                INVALID_REQUEST,
                "Unsupported content type: send the JSON-RPC request as Content-Type: application/json",
                status=415,
            )
            await refused(scope, receive, send)
            return
        prepared = prepare_body(await request.body())
        if isinstance(prepared, Response):
            await prepared(scope, receive, send)
            return
        forwarded = False

        async def replay() -> Message:
            nonlocal forwarded
            if not forwarded:
                forwarded = True
                return {"type": "http.request", "body": prepared, "more_body": False}
            return await receive()

        state = scope.get("state") or {}
        caller = Caller(self.ctx, tenant, str(state.get("request_id") or "unknown"))
        token = set_caller(caller)
        try:
            await self.sessions.handle_request(
                {**scope, "headers": _headers(scope, len(prepared))}, replay, send
            )
        finally:
            reset_caller(token)
