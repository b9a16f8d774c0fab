"""Graph-compatible mode: Meta's own paths and bodies, authenticated with a Kirem API key.

An existing Meta SDK works through Kirem by changing only its base URL (and using a Kirem key as
its token, in any of the places Meta takes one): answers are Meta's (no wrapper) and every error
under a ``/v<major>.<minor>/`` prefix — unknown paths included — is Meta's error body
(:mod:`kirem.api.graph_errors`), while quotas, logs and routing still apply. Object ids in these
paths must be Meta's (digits) before anything else happens.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Match
from starlette.types import Scope

from kirem.api import graph_errors
from kirem.api.body import TOKEN_FIELD, is_form, read_form, read_graph_body, read_upload
from kirem.api.deps import get_context, get_session, tenant_for_request
from kirem.api.graph_errors import VERSION
from kirem.api.idempotency import idempotent
from kirem.api.responses import WrappedJSON
from kirem.api.schemas import API_KEY, request_body
from kirem.context import AppContext
from kirem.conversations.service import joined_conversation
from kirem.db.scope import for_project
from kirem.kit.errors import not_found
from kirem.messaging import media, profile, service, templates
from kirem.messaging.graph_schemas import (
    GRAPH_AUTHENTICATED,
    GraphSuccess,
    MediaOrNumber,
    ProfilePage,
    TemplatePage,
    graph_body,
    graph_responses,
)
from kirem.messaging.schemas import (
    PROFILE_UPDATE_EXAMPLE,
    SEND_EXAMPLES,
    TEMPLATE_EXAMPLE,
    MediaId,
    MediaUpload,
    MessageSent,
    ProfileUpdate,
    SendMessage,
    TemplateCreate,
    TemplateCreated,
)
from kirem.meta.fields import requested_fields, select_fields
from kirem.meta.ids import is_graph_id
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant


class GraphRoute(APIRoute):
    """Matches only ``/v<major>.<minor>/…``; every failure there is rendered as Meta's error body
    (by :mod:`kirem.api.errors`, which knows these paths by their prefix)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and not VERSION.match(child.get("path_params", {}).get("version", "")):
            return Match.NONE, {}
        return match, child


async def graph_token(request: Request) -> str | None:
    """The token as Meta takes it: a Bearer header, else ``?access_token=``, else a form field."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    if request.query_params.get("access_token"):
        return request.query_params["access_token"]
    if request.method == "POST" and is_form(request):
        await request.body()  # kept by the request, so the route can still read the body itself
        value = (await read_form(request)).get(TOKEN_FIELD)
        if isinstance(value, str) and value:
            return value
    return None


async def get_graph_tenant(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    _: HTTPAuthorizationCredentials | None = Security(API_KEY),
) -> Tenant:
    """A Kirem API key in any of Meta's token places, under the same rules as the Bearer header."""
    token = await graph_token(request)
    if token is None:
        raise graph_errors.missing_token()
    return await tenant_for_request(request, ctx, session, token)


def graph_id(request: Request, object_id: str) -> str:
    """The path's object id, if it is Meta's (digits); anything else is an object Meta does not have."""
    if not is_graph_id(object_id):
        raise graph_errors.unsupported_request(request.method, object_id)
    return object_id


OLDEST_MAJOR = 13
"""The oldest Graph version a WhatsApp Cloud API client may call (Cloud API began with v13.0)."""


def supported_version(
    version: str = Path(
        description="Meta's Graph API version without the v, from 13.0 up (all are served alike)",
        examples=["23.0"],
    ),
) -> None:
    """Every version from v13.0 up is served alike (Kirem itself calls Meta at
    ``KIREM_META_GRAPH_VERSION``); an older one is refused as Meta refuses a retired version."""
    major = version.partition(".")[0].lstrip("0")
    if len(major) < len(str(OLDEST_MAJOR)) or (len(major) == 2 and int(major) < OLDEST_MAJOR):
        raise graph_errors.unsupported_version(version)


router = APIRouter(
    prefix="/v{version}",
    tags=["graph-compatible"],
    route_class=GraphRoute,
    dependencies=[Depends(supported_version)],
    responses=graph_responses(*GRAPH_AUTHENTICATED),
)
POST_ERRORS = (413, 415)


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


@router.post(
    "/{phone_number_id}/messages",
    summary="Meta's send endpoint, through Kirem",
    response_model=MessageSent,
    responses=graph_responses(*POST_ERRORS, 502),
    openapi_extra=graph_body(SendMessage, SEND_EXAMPLES["text"]),
)
async def send(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, phone_number_id)

    async def execute() -> Response:
        body = await read_graph_body(request)
        answer, _ = await service.send_message(
            ctx, session, tenant, body, conversation_of=joined_conversation, phone_number_id=phone_number_id
        )
        return meta(answer)

    return await idempotent(request, ctx, tenant, execute)


@router.post(
    "/{phone_number_id}/media",
    summary="Meta's media upload, through Kirem",
    response_model=MediaId,
    responses=graph_responses(*POST_ERRORS, 502),
    openapi_extra=request_body(MediaUpload, media_type="multipart/form-data"),
)
async def upload(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, phone_number_id)
    media_id = await media.upload_part(
        ctx, session, tenant, await read_upload(request), channel_id=phone_number_id
    )
    return meta({"id": media_id})


@router.get(
    "/{media_id}",
    summary="Meta's media metadata (the URL downloads through Kirem with the same key), or a channel's "
    "phone number node",
    response_model=MediaOrNumber,
    responses=graph_responses(502),
)
async def media_metadata(
    media_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, media_id)
    number = await profile.project_number(session, tenant, media_id)
    if number is not None:
        return meta(await profile.phone_number(ctx, session, tenant, request.query_params, channel=number))
    _, info = await media.media_info(ctx, session, tenant, media_id)
    url = f"{ctx.settings.base_url}/v1/media/{media_id}/download"
    answer = {"messaging_product": "whatsapp", **info, "id": str(info.get("id") or media_id), "url": url}
    return meta(select_fields(answer, requested_fields(request.query_params.get("fields"))))


@router.delete(
    "/{media_id}",
    summary="Meta's media deletion, through Kirem",
    response_model=GraphSuccess,
    responses=graph_responses(502),
)
async def delete_media(
    media_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, media_id)
    await media.delete_media(ctx, session, tenant, media_id)
    return meta({"success": True})


@router.get(
    "/{waba_id}/message_templates",
    summary="Meta's template list, through Kirem",
    response_model=TemplatePage,
    responses=graph_responses(502),
)
async def list_templates(
    waba_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    """Meta's page as Meta answers it (``fields``, filters, cursors and ``summary`` go to Meta),
    its ``paging`` links pointing back at Kirem."""
    graph_id(request, waba_id)
    channel_id = await _waba_channel(session, tenant, waba_id)
    page = await templates.template_page(ctx, session, tenant, request.query_params, channel_id=channel_id)
    if "paging" in page:
        page = {**page, "paging": templates.own_paging(page["paging"], ctx.settings.base_url, request.url)}
    return meta(page)


@router.post(
    "/{waba_id}/message_templates",
    summary="Meta's template creation, through Kirem",
    response_model=TemplateCreated,
    responses=graph_responses(*POST_ERRORS, 502),
    openapi_extra=graph_body(TemplateCreate, TEMPLATE_EXAMPLE),
)
async def create_template(
    waba_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, waba_id)
    channel_id = await _waba_channel(session, tenant, waba_id)
    body = await read_graph_body(request)
    return meta(await templates.create_template(ctx, session, tenant, body, channel_id=channel_id))


@router.delete(
    "/{waba_id}/message_templates",
    summary="Meta's template deletion by name, through Kirem",
    response_model=GraphSuccess,
    responses=graph_responses(502),
)
async def delete_template(
    waba_id: str,
    request: Request,
    name: str = Query(...),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, waba_id)
    channel_id = await _waba_channel(session, tenant, waba_id)
    await templates.delete_template(ctx, session, tenant, name, channel_id=channel_id)
    return meta({"success": True})


@router.get(
    "/{phone_number_id}/whatsapp_business_profile",
    summary="Meta's business profile, through Kirem",
    response_model=ProfilePage,
    responses=graph_responses(502),
)
async def get_business_profile(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, phone_number_id)
    data = await profile.get_profile(ctx, session, tenant, channel_id=phone_number_id)
    fields = requested_fields(request.query_params.get("fields"))
    return meta({"data": [{**select_fields(data, fields), "messaging_product": "whatsapp"}]})


@router.post(
    "/{phone_number_id}/whatsapp_business_profile",
    summary="Meta's profile update, through Kirem",
    response_model=GraphSuccess,
    responses=graph_responses(*POST_ERRORS, 502),
    openapi_extra=graph_body(ProfileUpdate, {"messaging_product": "whatsapp", **PROFILE_UPDATE_EXAMPLE}),
)
async def update_business_profile(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_graph_tenant),
) -> Response:
    graph_id(request, phone_number_id)
    body = await read_graph_body(request)
    await profile.update_profile(ctx, session, tenant, body, channel_id=phone_number_id)
    return meta({"success": True})
