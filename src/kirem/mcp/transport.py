"""``POST /v1/mcp``: the API key checked, then the SDK's Streamable HTTP transport (stateless, JSON).

``POST /v1/mcp/{project_slug}`` (a project's dedicated endpoint, enterprise plan) is the same
endpoint with another check of the caller: :func:`dedicated_tenant`.

The host app routes exactly ``/v1/mcp`` here (a ``Route``, not a ``Mount``: no redirect to
``/v1/mcp/``) and runs :meth:`McpEndpoint.run` in its own lifespan, since the SDK's session manager
needs a task group and a mounted app's lifespan never runs.

The SDK is imported by the first MCP request, not at start-up: with its dependencies it holds about
15 MB that a gateway nobody asks over MCP does not need (docs/performance.md, "Memory"). Its session
manager's task group then runs in a task of its own until the lifespan ends.

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

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from kirem.api.deps import bearer_token, get_tenant, tenant_for_request
from kirem.api.responses import ApiError, error_response
from kirem.context import AppContext
from kirem.enterprise.mcp_endpoints import EndpointLimiters, endpoint_owner
from kirem.kit.errors import Forbidden, not_found
from kirem.mcp.caller import Caller, reset_caller, set_caller
from kirem.tenancy.limits import require_plan
from kirem.tenancy.service import Tenant

if TYPE_CHECKING:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

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


def session_manager(max_body_bytes: int) -> StreamableHTTPSessionManager:
    """Kirem's MCP server and the SDK's stateless, JSON-answering session manager for it."""
    from mcp.server.transport_security import TransportSecuritySettings

    from kirem.mcp.server import create_mcp_server

    server = create_mcp_server()
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=max_body_bytes,
        # the API key is the protection here; Host checks would break every public deployment
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    return server.session_manager


class McpEndpoint:
    """The ASGI endpoint of ``/v1/mcp`` and ``/v1/mcp/{project_slug}`` for one app (one SDK session
    manager per lifespan, started by the first MCP request)."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.limiters = EndpointLimiters()
        self.running = False
        self._sessions: StreamableHTTPSessionManager | None = None
        self._sessions_task: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._stopping = asyncio.Event()

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Open the endpoint for the host app's lifespan; at its end, stop the SDK's task group."""
        # made in the lifespan's event loop, which the first MCP request's task shares
        self._starting, self._stopping = asyncio.Lock(), asyncio.Event()
        self.running = True
        try:
            yield
        finally:
            self.running = False
            task, self._sessions_task, self._sessions = self._sessions_task, None, None
            if task is not None:
                self._stopping.set()
                await task

    async def sessions(self) -> StreamableHTTPSessionManager:
        """The SDK's session manager, built and its task group started by the first call."""
        async with self._starting:
            if self._sessions is None:
                sessions = session_manager(self.ctx.settings.max_body_bytes)
                started = asyncio.Event()
                task = asyncio.create_task(self._serve(sessions, started), name="kirem-mcp-sessions")
                await started.wait()
                if task.done():
                    task.result()  # the task group could not start: raise why
                self._sessions, self._sessions_task = sessions, task
        return self._sessions

    async def _serve(self, sessions: StreamableHTTPSessionManager, started: asyncio.Event) -> None:
        try:
            async with sessions.run():
                started.set()
                await self._stopping.wait()
        finally:
            started.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if not self.running:
            error = ApiError(
                503, "The MCP endpoint is not running yet", {"mcp": "the app's lifespan has not started"}
            )
            await error_response(error)(scope, receive, send)
            return
        slug = request.path_params.get("project_slug")
        try:
            async with self.ctx.db.session() as session:
                if slug is None:
                    tenant = await get_tenant(request, self.ctx, session)
                else:
                    tenant = await dedicated_tenant(request, self.ctx, session, slug, self.limiters)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
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

        sessions = await self.sessions()  # before the caller is set: its task must not inherit it
        state = scope.get("state") or {}
        caller = Caller(self.ctx, tenant, str(state.get("request_id") or "unknown"))
        token = set_caller(caller)
        try:
            await sessions.handle_request({**scope, "headers": _headers(scope, len(prepared))}, replay, send)
        finally:
            reset_caller(token)


async def dedicated_tenant(
    request: Request, ctx: AppContext, session: AsyncSession, slug: str, limiters: EndpointLimiters
) -> Tenant:
    """Who calls ``/v1/mcp/{slug}``: a key of scope ``mcp`` of the endpoint's project, on the
    enterprise plan, within the endpoint's rate; otherwise a 404, 401, 403 or 429."""
    owner = await endpoint_owner(session, slug)
    if owner is None:
        raise not_found("MCP endpoint")
    require_plan(owner.account, owner.limits)
    token = bearer_token(request)
    limiter = limiters.for_endpoint(owner.endpoint)
    tenant = await tenant_for_request(
        request, ctx, session, token, scope="mcp", limit=(limiter, owner.endpoint.project_id)
    )
    if tenant.project.id != owner.project.id:
        raise Forbidden(
            "This API key is not bound to this MCP endpoint", {"authorization": "another project's key"}
        )
    return tenant
