"""Graph-compatible mode: Meta's own paths and bodies, authenticated with a Kirem API key.

An existing Meta SDK works through Kirem by changing only its base URL (and using a Kirem key as
its token, in any of the places Meta takes one): answers are Meta's (no wrapper) and every error
under a ``/v<major>.<minor>/`` prefix — unknown paths included — is Meta's error body
(:mod:`kirem.api.graph_errors`), while quotas, logs and routing still apply. Object ids in these
paths must be Meta's (digits) before anything else happens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.types import DecoratedCallable
from pydantic import BaseModel
from starlette.routing import Match
from starlette.types import Scope

from kirem.api import graph_errors
from kirem.api.body import TOKEN_FIELD, is_form, read_form, read_graph_body, read_upload
from kirem.api.calls import Call
from kirem.api.deps import ContextDep, SessionDep, tenant_for_request
from kirem.api.graph_errors import VERSION
from kirem.api.responses import WrappedJSON
from kirem.api.schemas import API_KEY, request_body
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
    ctx: ContextDep,
    session: SessionDep,
    _: HTTPAuthorizationCredentials | None = Security(API_KEY),
) -> Tenant:
    """A Kirem API key in any of Meta's token places, under the same rules as the Bearer header."""
    token = await graph_token(request)
    if token is None:
        raise graph_errors.missing_token()
    return await tenant_for_request(request, ctx, session, token)


async def graph_call(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    tenant: Annotated[Tenant, Depends(get_graph_tenant)],
) -> Call:
    return Call(request, ctx, session, tenant)


GraphCallDep = Annotated[Call, Depends(graph_call)]
"""A route parameter typed ``GraphCallDep`` receives the request with its context, session and the
project of the Kirem key found in Meta's token places (:func:`get_graph_tenant`)."""


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
BODY_ERRORS = (413, 415)
"""What a route reading a body may also answer: too large, not JSON or a form."""


def operation(
    method: str, path: str, summary: str, model: type[BaseModel], body: dict[str, Any] | None = None
) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """A Graph-compatible route answering ``model`` as Meta does; every one reaches Meta (502), and
    one that reads a ``body`` (its ``openapi_extra``) may refuse it as well."""
    errors = (*BODY_ERRORS, 502) if body else (502,)
    return router.api_route(
        path,
        methods=[method],
        summary=summary,
        response_model=model,
        responses=graph_responses(*errors),
        openapi_extra=body,
    )


def meta(data: Any) -> WrappedJSON:
    return WrappedJSON(data)


SUCCESS = {"success": True}


async def _waba_channel(call: Call, waba_id: str) -> str:
    """The active channel of the project's WhatsApp Business Account ``waba_id`` (Meta's id)."""
    graph_id(call.request, waba_id)
    stmt = for_project(Channel, call.tenant.project_id).where(
        Channel.waba_id == waba_id, Channel.status == "active"
    )
    channel = (await call.session.execute(stmt.limit(1))).scalar_one_or_none()
    if channel is None:
        raise not_found("WhatsApp Business Account")
    return channel.id


@operation(
    "POST",
    "/{phone_number_id}/messages",
    "Meta's send endpoint, through Kirem",
    MessageSent,
    graph_body(SendMessage, SEND_EXAMPLES["text"]),
)
async def send(phone_number_id: str, call: GraphCallDep) -> Response:
    graph_id(call.request, phone_number_id)

    async def execute() -> Response:
        body = await read_graph_body(call.request)
        answer, _ = await service.send_message(
            call.ctx,
            call.session,
            call.tenant,
            body,
            conversation_of=joined_conversation,
            phone_number_id=phone_number_id,
        )
        return meta(answer)

    return await call.once(execute)


@operation(
    "POST",
    "/{phone_number_id}/media",
    "Meta's media upload, through Kirem",
    MediaId,
    request_body(MediaUpload, media_type="multipart/form-data"),
)
async def upload(phone_number_id: str, call: GraphCallDep) -> Response:
    graph_id(call.request, phone_number_id)
    part = await read_upload(call.request)
    media_id = await media.upload_part(call.ctx, call.session, call.tenant, part, channel_id=phone_number_id)
    return meta({"id": media_id})


@operation(
    "GET",
    "/{media_id}",
    "Meta's media metadata (the URL downloads through Kirem with the same key), or a channel's "
    "phone number node",
    MediaOrNumber,
)
async def media_metadata(media_id: str, call: GraphCallDep) -> Response:
    ctx, session, tenant, params = call.ctx, call.session, call.tenant, call.request.query_params
    graph_id(call.request, media_id)
    number = await profile.project_number(session, tenant, media_id)
    if number is not None:
        return meta(await profile.phone_number(ctx, session, tenant, params, channel=number))
    _, info = await media.media_info(ctx, session, tenant, media_id)
    url = f"{ctx.settings.base_url}/v1/media/{media_id}/download"
    answer = {"messaging_product": "whatsapp", **info, "id": str(info.get("id") or media_id), "url": url}
    return meta(select_fields(answer, requested_fields(params.get("fields"))))


@operation("DELETE", "/{media_id}", "Meta's media deletion, through Kirem", GraphSuccess)
async def delete_media(media_id: str, call: GraphCallDep) -> Response:
    graph_id(call.request, media_id)
    await media.delete_media(call.ctx, call.session, call.tenant, media_id)
    return meta(SUCCESS)


@operation("GET", "/{waba_id}/message_templates", "Meta's template list, through Kirem", TemplatePage)
async def list_templates(waba_id: str, call: GraphCallDep) -> Response:
    """Meta's page as Meta answers it (``fields``, filters, cursors and ``summary`` go to Meta),
    its ``paging`` links pointing back at Kirem."""
    channel_id = await _waba_channel(call, waba_id)
    request, ctx = call.request, call.ctx
    page = await templates.template_page(
        ctx, call.session, call.tenant, request.query_params, channel_id=channel_id
    )
    if "paging" in page:
        page = {**page, "paging": templates.own_paging(page["paging"], ctx.settings.base_url, request.url)}
    return meta(page)


@operation(
    "POST",
    "/{waba_id}/message_templates",
    "Meta's template creation, through Kirem",
    TemplateCreated,
    graph_body(TemplateCreate, TEMPLATE_EXAMPLE),
)
async def create_template(waba_id: str, call: GraphCallDep) -> Response:
    channel_id = await _waba_channel(call, waba_id)
    body = await read_graph_body(call.request)
    return meta(
        await templates.create_template(call.ctx, call.session, call.tenant, body, channel_id=channel_id)
    )


@operation(
    "DELETE", "/{waba_id}/message_templates", "Meta's template deletion by name, through Kirem", GraphSuccess
)
async def delete_template(waba_id: str, call: GraphCallDep, name: str = Query(...)) -> Response:
    channel_id = await _waba_channel(call, waba_id)
    await templates.delete_template(call.ctx, call.session, call.tenant, name, channel_id=channel_id)
    return meta(SUCCESS)


@operation(
    "GET",
    "/{phone_number_id}/whatsapp_business_profile",
    "Meta's business profile, through Kirem",
    ProfilePage,
)
async def get_business_profile(phone_number_id: str, call: GraphCallDep) -> Response:
    graph_id(call.request, phone_number_id)
    data = await profile.get_profile(call.ctx, call.session, call.tenant, channel_id=phone_number_id)
    fields = requested_fields(call.request.query_params.get("fields"))
    return meta({"data": [{**select_fields(data, fields), "messaging_product": "whatsapp"}]})


@operation(
    "POST",
    "/{phone_number_id}/whatsapp_business_profile",
    "Meta's profile update, through Kirem",
    GraphSuccess,
    graph_body(ProfileUpdate, {"messaging_product": "whatsapp", **PROFILE_UPDATE_EXAMPLE}),
)
async def update_business_profile(phone_number_id: str, call: GraphCallDep) -> Response:
    graph_id(call.request, phone_number_id)
    body = await read_graph_body(call.request)
    await profile.update_profile(call.ctx, call.session, call.tenant, body, channel_id=phone_number_id)
    return meta(SUCCESS)
