"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy import text

from kirem import __version__
from kirem.api.deps import get_context
from kirem.api.responses import ApiError, ok
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> Response:
    return ok({"version": __version__}, "ok")


@router.get("/readyz", summary="The process can serve: the database answers")
async def readyz(ctx: AppContext = Depends(get_context)) -> Response:
    try:
        async with ctx.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        raise ApiError(503, "Database unavailable", {"database": exc.__class__.__name__}) from exc
    return ok({"database": "ok", "sandbox": ctx.sandbox_graph is not None}, "ready")


@router.get("/metrics", summary="Prometheus metrics of this process", include_in_schema=False)
async def metrics(ctx: AppContext = Depends(get_context)) -> Response:
    async with ctx.db.session() as session:
        await ctx.metrics.refresh_queue(session, utcnow())
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
