"""Liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from kirem import __version__
from kirem.api.deps import get_context
from kirem.api.responses import ApiError, ok
from kirem.api.schemas import Envelope, answer, responses, wrapped
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.heartbeat import backlog
from kirem.metrics import CONTENT_TYPE
from kirem.runtime import Runtime

router = APIRouter(tags=["health"])


class Version(BaseModel):
    version: str


class Workers(BaseModel):
    live: int = Field(description="Processes whose heartbeat is recent")
    last_heartbeat_age_seconds: float | None


class Queues(BaseModel):
    oldest_pending_delivery_seconds: float | None
    oldest_pending_inbound_seconds: float | None


class Readiness(BaseModel):
    database: Literal["ok"]
    sandbox: bool = Field(description="The Meta emulator is mounted at /sandbox")
    worker: Literal["ok", "off"] = Field(description="This process's worker: beating, or not run here")
    workers: Workers
    queues: Queues


READY = {
    "database": "ok",
    "sandbox": False,
    "worker": "ok",
    "workers": {"live": 1, "last_heartbeat_age_seconds": 0.8},
    "queues": {"oldest_pending_delivery_seconds": 0.0, "oldest_pending_inbound_seconds": 0.0},
}


@router.get(
    "/healthz",
    summary="The process is up",
    response_model=Envelope[Version],
    responses=answer(200, wrapped("ok", {"version": __version__})),
)
async def healthz() -> Response:
    return ok({"version": __version__}, "ok")


@router.get(
    "/readyz",
    summary="The process can serve: the database answers, its worker beats",
    response_model=Envelope[Readiness],
    responses={
        **answer(200, wrapped("ready", READY)),
        **responses(503, r503="The database does not answer, or this process's worker heartbeat is stale"),
    },
)
async def readyz(request: Request, ctx: AppContext = Depends(get_context)) -> Response:
    """503 when the database does not answer, or when this process runs the worker and its
    heartbeat is stale (a background loop stopped). Other processes' heartbeats and the queues'
    lag are reported, never a reason to take this process out of a load balancer."""
    try:
        async with ctx.db.session() as session:
            report = await backlog(session, utcnow(), ctx.settings.heartbeat_seconds)
    except Exception as exc:
        raise ApiError(503, "Database unavailable", {"database": exc.__class__.__name__}) from exc
    runtime: Runtime | None = request.app.state.runtime
    worker = "off" if runtime is None else "ok" if runtime.beating() else "stale"
    if worker == "stale":
        raise ApiError(
            503, "This process's worker has no recent heartbeat", {"worker": "stale", **report.view()}
        )
    data = {"database": "ok", "sandbox": ctx.sandbox_graph is not None, "worker": worker, **report.view()}
    return ok(data, "ready")


@router.get("/metrics", summary="Prometheus metrics of this process", include_in_schema=False)
async def metrics(ctx: AppContext = Depends(get_context)) -> Response:
    async with ctx.db.session() as session:
        await ctx.metrics.refresh_queue(session, utcnow())
        await ctx.metrics.refresh_enterprise(session, utcnow(), ctx.settings.heartbeat_seconds)
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
