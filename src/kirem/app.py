"""The FastAPI application: routers, error handling, and the sandbox mounted beside the API."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.routing import Route

from kirem import __version__
from kirem.analytics.routes import router as analytics_router
from kirem.api.docs_pages import install_docs_pages
from kirem.api.errors import install_error_handlers
from kirem.api.health import router as health_router
from kirem.api.middleware import DirectRoute, RequestContextMiddleware
from kirem.api.openapi import TAGS, Completion, install_openapi, mounted
from kirem.config import Settings
from kirem.context import AppContext, live_graph_client
from kirem.conversations.routes import contacts_router
from kirem.conversations.routes import router as conversations_router
from kirem.crypto import Sealer
from kirem.dashboard import install as install_dashboard
from kirem.db.engine import Database
from kirem.delivery.routes import router as delivery_router
from kirem.delivery.sender import WebhookSender
from kirem.enterprise.routes import router as enterprise_router
from kirem.heap import prepare_heap
from kirem.inbound.ingest import RawEventStore
from kirem.inbound.routes import receive_directly, receive_in_process
from kirem.inbound.routes import router as inbound_router
from kirem.mcp.openapi import add_mcp_paths
from kirem.mcp.transport import DEDICATED_MCP_PATH, MCP_PATH, McpEndpoint
from kirem.messaging.graph_routes import router as graph_router
from kirem.messaging.routes import SENDS
from kirem.messaging.routes import router as messaging_router
from kirem.meta.client import GraphClient
from kirem.meta.transport import AsgiExchange
from kirem.metrics import Metrics
from kirem.onboarding.routes import pages as setup_pages
from kirem.onboarding.routes import router as setup_links_router
from kirem.ratelimit import RateLimiter
from kirem.routing.routes import router as webhooks_router
from kirem.runtime import Runtime
from kirem.sandbox.app import create_sandbox_app
from kirem.sandbox.webhooks import resolve_app_secret
from kirem.tenancy.routes import manage, operator
from kirem.usage.routes import router as usage_router

log = logging.getLogger("kirem")
SANDBOX_PREFIX = "/sandbox"


def _body_limit(settings: Settings) -> Callable[[str], int]:
    def limit_for(path: str) -> int:
        if path.rstrip("/").endswith("/media"):
            return settings.max_upload_bytes
        if path.rstrip("/") == "/webhooks/meta":
            return settings.max_webhook_bytes
        return settings.max_body_bytes

    return limit_for


def _warn_sandbox_in_production(settings: Settings) -> None:
    """The emulator is a test tool: say loudly that it runs in production, and how it is guarded."""
    if settings.env != "production":
        return
    if settings.operator_token:
        log.warning(
            "KIREM_SANDBOX is on in production: the Meta emulator is mounted at %s, and its customer "
            "simulator (%s/v1/*) accepts only requests bearing the operator token (KIREM_OPERATOR_TOKEN)",
            SANDBOX_PREFIX,
            SANDBOX_PREFIX,
        )
    else:
        log.warning(
            "KIREM_SANDBOX is on in production without KIREM_OPERATOR_TOKEN: the Meta emulator is mounted "
            "at %s and its customer simulator (%s/v1/*) is closed",
            SANDBOX_PREFIX,
            SANDBOX_PREFIX,
        )


def app_from_environment() -> FastAPI:
    """The app of one ``kirem serve --workers N`` process, from ``KIREM_*`` (already migrated)."""
    app = create_app(Settings())
    prepare_heap()
    return app


def create_app(
    settings: Settings,
    *,
    meta_transport: httpx.AsyncBaseTransport | None = None,
    webhook_sender: WebhookSender | None = None,
) -> FastAPI:
    """Build the app. ``meta_transport`` replaces the network to Meta (tests of live channels)."""
    database = Database(settings)
    metrics = Metrics()
    sandbox_app = None
    sandbox_graph = None

    async def to_this_kirem(body: bytes, signature: str) -> int:
        """A sandbox webhook to this app's own receiver (``ctx`` and ``raw_events`` are made below)."""
        return await receive_in_process(ctx, raw_events, body, signature)

    if settings.sandbox_enabled:
        _warn_sandbox_in_production(settings)
        # Without KIREM_PUBLIC_URL the sandbox's callback URL is this server's own address
        sandbox_app = create_sandbox_app(
            settings, database, in_process=None if settings.public_url else to_this_kirem
        )
        transport = httpx.ASGITransport(app=sandbox_app, root_path=SANDBOX_PREFIX)
        sandbox_graph = GraphClient(
            httpx.AsyncClient(transport=transport, base_url=settings.base_url + SANDBOX_PREFIX, timeout=30),
            settings.meta_graph_version,
            metrics,
            direct=AsgiExchange(sandbox_app, root_path=SANDBOX_PREFIX),
        )
    ctx = AppContext(
        settings=settings,
        db=database,
        sealer=Sealer.from_settings(settings),
        live_graph=live_graph_client(settings, meta_transport, metrics),
        sandbox_graph=sandbox_graph,
        limiter=RateLimiter(settings.rate_limit_per_second),
        sandbox_app_secret=resolve_app_secret(settings) if settings.sandbox_enabled else None,
        metrics=metrics,
    )

    raw_events = RawEventStore(database, ctx.signals)
    mcp = McpEndpoint(ctx)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(ctx, webhook_sender) if settings.worker else None
        app.state.runtime = runtime
        if runtime is not None:
            await runtime.start()
        if sandbox_app is not None:
            sandbox_app.state.sandbox.ensure_started()  # posts webhooks a previous run still owes
        try:
            async with mcp.run():  # the MCP SDK's task group: a mounted app's lifespan would never run
                yield
        finally:
            if runtime is not None:
                await runtime.stop()
            if sandbox_app is not None:
                await sandbox_app.state.sandbox.aclose()
            await raw_events.aclose()
            await ctx.aclose()

    app = FastAPI(
        title="Kirem",
        version=__version__,
        description="WhatsApp Business API gateway and webhook router",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs_pages, from local files
        redoc_url=None,
        # Kirem's metrics are its own (/metrics); FastAPI's OpenTelemetry hooks would only look up
        # the (unconfigured) global providers, reading the environment, on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    app.state.metrics = metrics
    app.state.raw_events = raw_events
    app.state.mcp = mcp
    app.state.runtime = None  # set by the lifespan when this process runs the worker
    install_error_handlers(app)
    install_docs_pages(app)
    completions: list[Completion] = [add_mcp_paths]
    if sandbox_app is not None:
        completions.append(mounted(SANDBOX_PREFIX, sandbox_app, "sandbox"))
    install_openapi(
        app,
        tags=TAGS,
        servers=[{"url": settings.public_url.rstrip("/") if settings.public_url else "/"}],
        completions=completions,
    )
    # Routes at exactly /v1/mcp (a Mount would redirect to /v1/mcp/); POST only: stateless, no streams
    for path in (MCP_PATH, MCP_PATH + "/", DEDICATED_MCP_PATH):
        app.router.routes.append(Route(path, mcp, methods=["POST"], include_in_schema=False))
    routers = (
        inbound_router,
        health_router,
        messaging_router,
        analytics_router,
        webhooks_router,
        delivery_router,
        conversations_router,
        contacts_router,
        usage_router,
        manage,
        enterprise_router,
        operator,
        setup_links_router,
        setup_pages,
    )
    for router in routers:
        app.include_router(router)
    install_dashboard(app)
    app.include_router(graph_router)  # last: Meta's /v<major>.<minor>/… paths must not shadow Kirem's
    if sandbox_app is not None:
        app.mount(SANDBOX_PREFIX, sandbox_app)
    app.add_middleware(
        RequestContextMiddleware,
        body_limit_for=_body_limit(settings),
        metrics=ctx.metrics,
        direct=(DirectRoute("POST", "/webhooks/meta", receive_directly), *SENDS),  # no FastAPI routing
    )
    return app
