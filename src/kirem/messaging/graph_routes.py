"""Graph-compatible mode: Meta's own paths and bodies, authenticated with a Kirem API key.

An existing Meta SDK works through Kirem by changing only its base URL (and using a Kirem key as
its token): answers are Meta's (no wrapper) and errors are Meta's error body — while quotas, logs,
idempotency and routing still apply. Only ``/v<major>.<minor>/…`` paths are served here; anything
else falls through to Kirem's own 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Match
from starlette.types import Scope

from kirem.api.body import read_json, read_upload
from kirem.api.deps import get_context, get_session, get_tenant
from kirem.api.errors import validation_errors
from kirem.api.responses import ApiError, WrappedJSON, not_found
from kirem.context import AppContext
from kirem.db.scope import for_project
from kirem.messaging import media, profile, service, templates
from kirem.meta.client import MetaApiError, MetaUnavailable
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant

VERSION = re.compile(r"^\d+\.\d+$")
_CODES = {401: 190, 403: 200, 429: 4}


def meta_body(status: int, message: str, details: Any, request_id: str | None) -> dict[str, Any]:
    """A Kirem-side refusal in Meta's error shape (190 auth, 200 permission, 4 rate, 100 otherwise)."""
    code = _CODES.get(status, 100)
    error: dict[str, Any] = {
        "message": f"(#{code}) {message}",
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": request_id or "",
    }
    return {"error": error}


class GraphRoute(APIRoute):
    """Matches only ``/v<major>.<minor>/…`` and renders every failure as Meta would."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and not VERSION.match(child.get("path_params", {}).get("version", "")):
            return Match.NONE, {}
        return match, child

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def graph_handler(request: Request) -> Response:
            request_id = request.scope.get("state", {}).get("request_id")
            try:
                return await handler(request)
            except MetaApiError as exc:
                return WrappedJSON({"error": exc.error}, status_code=exc.http_status)
            except MetaUnavailable as exc:
                return WrappedJSON(
                    meta_body(502, "Meta API is unavailable", str(exc), request_id), status_code=502
                )
            except RequestValidationError as exc:
                return WrappedJSON(
                    meta_body(400, "Invalid parameter", validation_errors(exc), request_id), 400
                )
            except ApiError as exc:
                body = meta_body(exc.status, exc.message, exc.errors, request_id)
                return WrappedJSON(body, status_code=exc.status, headers=exc.headers)

        return graph_handler


router = APIRouter(prefix="/v{version}", tags=["graph-compatible"], route_class=GraphRoute)


def meta(data: Any) -> WrappedJSON:
    return WrappedJSON(data)


async def _waba_channel(session: AsyncSession, tenant: Tenant, waba_id: str) -> str:
    stmt = for_project(Channel, tenant.project_id).where(
        Channel.waba_id == waba_id, Channel.status == "active"
    )
    channel = (await session.execute(stmt.limit(1))).scalar_one_or_none()
    if channel is None:
        raise not_found("WhatsApp Business Account")
    return channel.id


@router.post("/{phone_number_id}/messages", summary="Meta's send endpoint, through Kirem")
async def send(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    body = await read_json(request)
    answer, _ = await service.send_message(ctx, session, tenant, body, phone_number_id=phone_number_id)
    return meta(answer)


@router.post("/{phone_number_id}/media", summary="Meta's media upload, through Kirem")
async def upload(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    media_id = await media.upload_part(
        ctx, session, tenant, await read_upload(request), channel_id=phone_number_id
    )
    return meta({"id": media_id})


@router.get("/{media_id}", summary="Meta's media metadata; the URL downloads through Kirem with the same key")
async def media_metadata(
    media_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    _, info = await media.media_info(ctx, session, tenant, media_id)
    return meta({**info, "url": f"{ctx.settings.base_url}/v1/media/{media_id}/download"})


@router.get("/{waba_id}/message_templates", summary="Meta's template list, through Kirem")
async def list_templates(
    waba_id: str,
    status: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    channel_id = await _waba_channel(session, tenant, waba_id)
    data = await templates.list_templates(ctx, session, tenant, status=status, channel_id=channel_id)
    return meta({"data": data})


@router.post("/{waba_id}/message_templates", summary="Meta's template creation, through Kirem")
async def create_template(
    waba_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    channel_id = await _waba_channel(session, tenant, waba_id)
    body = await read_json(request)
    return meta(await templates.create_template(ctx, session, tenant, body, channel_id=channel_id))


@router.delete("/{waba_id}/message_templates", summary="Meta's template deletion by name, through Kirem")
async def delete_template(
    waba_id: str,
    name: str = Query(...),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    channel_id = await _waba_channel(session, tenant, waba_id)
    await templates.delete_template(ctx, session, tenant, name, channel_id=channel_id)
    return meta({"success": True})


@router.get("/{phone_number_id}/whatsapp_business_profile", summary="Meta's business profile, through Kirem")
async def get_business_profile(
    phone_number_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    data = await profile.get_profile(ctx, session, tenant, channel_id=phone_number_id)
    return meta({"data": [{**data, "messaging_product": "whatsapp"}]})


@router.post("/{phone_number_id}/whatsapp_business_profile", summary="Meta's profile update, through Kirem")
async def update_business_profile(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    body = await read_json(request)
    await profile.update_profile(ctx, session, tenant, body, channel_id=phone_number_id)
    return meta({"success": True})
