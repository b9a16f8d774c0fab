"""``Idempotency-Key`` on POSTs: one execution per key and body within the TTL.

The same key and body answer the stored response (``Idempotent-Replayed: true``) and send nothing;
the same key with another body is 422; a key whose first request is still running is 409. Answers
that say "try again" (5xx, 429) are not stored, so a retry runs the request anew. Stored answers are
sealed like every other secret at rest: some carry one (a rotated webhook secret, a new key).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import timedelta

import orjson
from fastapi import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from kirem.api.errors import meta_error
from kirem.api.responses import ApiError, WrappedJSON, error_response
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.messaging.models import IdempotencyRecord
from kirem.meta.client import MetaApiError
from kirem.tenancy.service import Tenant

MAX_KEY_LENGTH = 255


async def _fingerprint(request: Request, key_mode: str) -> str:
    """The request a key stands for. A test key's differ from a live key's, so a test key never
    replays a live send (live fingerprints keep their earlier form: records survive an upgrade)."""
    mode = "" if key_mode == "live" else f"{key_mode} "
    line = f"{mode}{request.method} {request.url.path}?{request.url.query}\n"
    digest = hashlib.sha256(line.encode())
    digest.update(await request.body())
    return digest.hexdigest()


async def idempotent(
    request: Request, ctx: AppContext, tenant: Tenant, execute: Callable[[], Awaitable[Response]]
) -> Response:
    key = request.headers.get("idempotency-key")
    if key is None:
        return await execute()
    if not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise ApiError(
            400, "Invalid Idempotency-Key", {"idempotency_key": f"1 to {MAX_KEY_LENGTH} characters"}
        )
    fingerprint = await _fingerprint(request, tenant.key_mode)
    record = await _claim(ctx, tenant.project_id, key, fingerprint)
    if record is not None:
        return _replay(ctx, record, fingerprint)
    try:
        response = await _run(execute)
    except BaseException:
        await _forget(ctx, tenant.project_id, key)
        raise
    if response.status_code >= 500 or response.status_code == 429:
        await _forget(ctx, tenant.project_id, key)
    else:
        await _store(ctx, tenant.project_id, key, response)
    return response


async def _run(execute: Callable[[], Awaitable[Response]]) -> Response:
    try:
        return await execute()
    except ApiError as exc:
        return error_response(exc)
    except MetaApiError as exc:
        return error_response(meta_error(exc))


async def _claim(ctx: AppContext, project_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Insert the in-flight record; return the existing one when this key was seen before."""
    now = utcnow()
    async with ctx.db.session() as session:
        for _ in range(2):
            session.add(
                IdempotencyRecord(
                    project_id=project_id,
                    key=key,
                    fingerprint=fingerprint,
                    expires_at=now + timedelta(seconds=ctx.settings.idempotency_ttl_seconds),
                )
            )
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            stmt = select(IdempotencyRecord).where(
                IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key
            )
            existing = (await session.execute(stmt)).scalar_one_or_none()
            if existing is None:
                continue
            if existing.expires_at > now:
                return existing
            await session.delete(existing)
            await session.commit()
    raise ApiError(409, "Idempotency key is busy, retry shortly", {"idempotency_key": key})


def _replay(ctx: AppContext, record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise ApiError(
            422,
            "Idempotency-Key was already used with a different request (body, path or key mode)",
            {"idempotency_key": "use a new key for a different request"},
        )
    if record.response_body is None or record.response_status is None:
        raise ApiError(
            409, "A request with this Idempotency-Key is still in progress", {"idempotency_key": record.key}
        )
    sealed = record.response_body.decode()
    body = ctx.sealer.open(sealed, record.project_id, "idempotency", record.key).encode()
    response = WrappedJSON(None, status_code=record.response_status, headers={"Idempotent-Replayed": "true"})
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response


async def _store(ctx: AppContext, project_id: str, key: str, response: Response) -> None:
    body = bytes(response.body) if hasattr(response, "body") else orjson.dumps(None)
    sealed = ctx.sealer.seal(body.decode(), project_id, "idempotency", key).encode()
    async with ctx.db.session() as session:
        stmt = select(IdempotencyRecord).where(
            IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key
        )
        record = (await session.execute(stmt)).scalar_one()
        record.response_status = response.status_code
        record.response_body = sealed
        await session.commit()


async def _forget(ctx: AppContext, project_id: str, key: str) -> None:
    async with ctx.db.session() as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key
            )
        )
        await session.commit()
