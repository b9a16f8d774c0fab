"""The sandbox as its own ASGI app, which the host app mounts at ``/sandbox``."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from kirem.config import Settings
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.meta.transport import AiohttpTransport
from kirem.sandbox.errors import install_error_handlers
from kirem.sandbox.routes import SendsAtEdge, router
from kirem.sandbox.runtime import Clock, SandboxRuntime
from kirem.sandbox.templates import resume_pending_reviews
from kirem.sandbox.webhooks import InProcessReceiver, WebhookSender, resolve_app_secret, webhook_url

WEBHOOK_TIMEOUT_SECONDS = 10.0


class _StartOnFirstRequest:
    """Runs the runtime's start hooks on the first request: a mounted app's lifespan never runs."""

    def __init__(self, app: ASGIApp, runtime: SandboxRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.runtime.ensure_started()
        await self.app(scope, receive, send)


def create_sandbox_app(
    settings: Settings,
    database: Database,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    in_process: InProcessReceiver | None = None,
) -> FastAPI:
    """Build the emulator. ``app.state.sandbox`` is its :class:`SandboxRuntime`.

    The host must ``await app.state.sandbox.aclose()`` on shutdown; webhooks go to
    ``{settings.base_url}/webhooks/meta`` through ``http_client`` (one is created when not given),
    or to ``in_process`` when the host is the Kirem at that address.
    """
    owns_client = http_client is None
    pooled = AiohttpTransport() if owns_client else None
    client = http_client or httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS, transport=pooled)
    secret = resolve_app_secret(settings)
    runtime = SandboxRuntime(
        settings=settings,
        database=database,
        http_client=client,
        owns_client=owns_client,
        clock=clock or utcnow,
        webhooks=WebhookSender(client, webhook_url(settings), secret, direct=pooled, in_process=in_process),
        app_secret=secret,
    )
    runtime.on_start.append(resume_pending_reviews)

    app = FastAPI(
        title="Kirem sandbox: Meta WhatsApp Cloud API emulator",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.sandbox = runtime
    app.add_middleware(SendsAtEdge)
    install_error_handlers(app)
    app.add_middleware(_StartOnFirstRequest, runtime=runtime)
    app.include_router(router)
    return app
