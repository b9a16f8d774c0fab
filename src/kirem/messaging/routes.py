"""Public API routes for sending: messages, read receipts, media, templates and profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from kirem.api.body import read_json, read_json_object, read_upload
from kirem.api.calls import Call, CallDep, served_directly
from kirem.api.deps import ContextDep, SessionDep, TenantDep
from kirem.api.middleware import DirectRoute
from kirem.api.responses import ok
from kirem.api.schemas import (
    AUTHENTICATED,
    BODY,
    IDEMPOTENT,
    Envelope,
    PagedEnvelope,
    Success,
    also,
    answer,
    idempotency,
    integer,
    operation,
    request_body,
    responses,
    typed_query,
    wrapped,
)
from kirem.conversations.service import joined_conversation
from kirem.kit.errors import invalid
from kirem.messaging import media, profile, service, templates
from kirem.messaging.schemas import (
    MEDIA_EXAMPLE,
    PROFILE_EXAMPLE,
    PROFILE_UPDATE_EXAMPLE,
    PROFILE_UPDATED_EXAMPLE,
    READ_EXAMPLE,
    SEND_EXAMPLES,
    SENT_EXAMPLE,
    TEMPLATE_CREATED_EXAMPLE,
    TEMPLATE_DELETED_EXAMPLE,
    TEMPLATE_EXAMPLE,
    TEMPLATES_EXAMPLE,
    MediaId,
    MediaUpload,
    MessageSent,
    Profile,
    ProfileUpdate,
    ReadReceipt,
    SendMessage,
    Template,
    TemplateCreate,
    TemplateCreated,
)
from kirem.meta.ids import is_graph_id

router = APIRouter(prefix="/v1", tags=["messaging"])

CHANNEL_ID = Query(None, description="The channel to use (default: the project's first active channel)")
READ_ANSWER = wrapped("Message marked as read", {"success": True})
ASKING_META = responses(400, *AUTHENTICATED, 404, 409, 502)
"""What a route that asks Meta about a channel may answer: a bad value, a credential refused, no
such channel or object, a disconnected channel, Meta unavailable."""
WRITING_TO_META = responses(*BODY, *AUTHENTICATED, 404, *IDEMPOTENT, 502)
"""What a route that sends Meta a body under an ``Idempotency-Key`` may answer."""
SEND: dict[str, Any] = {
    "response_model": Envelope[MessageSent],
    "status_code": 201,
    "responses": {
        **answer(201, SENT_EXAMPLE, "Meta accepted the message"),
        **also(200, Envelope[MessageSent], READ_ANSWER, "The body was a read receipt (`status: read`)"),
        **WRITING_TO_META,
    },
    "openapi_extra": operation(request_body(SendMessage, examples=SEND_EXAMPLES), idempotency()),
}


def at_meta(model: Any, example: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The decorator keywords of a route that calls Meta for a channel: ``model`` answered with
    ``example``; one that sends a ``body`` (:func:`request_body`) takes an ``Idempotency-Key``."""
    if body is None:
        return {"response_model": model, "responses": {**answer(200, example), **ASKING_META}}
    return {
        "response_model": model,
        "responses": {**answer(200, example), **WRITING_TO_META},
        "openapi_extra": operation(body, idempotency()),
    }


async def _send(call: Call) -> Response:
    """A send through the path's ``phone_number_id``, else the project's first active channel."""
    phone_number_id: str | None = call.request.path_params.get("phone_number_id")
    if phone_number_id is not None and not is_graph_id(phone_number_id):
        raise invalid({"phone_number_id": "must be Meta's numeric phone number id"})

    async def execute() -> Response:
        body = await read_json(call.request)
        answer, was_read = await service.send_message(
            call.ctx,
            call.session,
            call.tenant,
            body,
            conversation_of=joined_conversation,
            phone_number_id=phone_number_id,
        )
        if was_read:
            return ok(answer, "Message marked as read")
        return ok(answer, "Message sent successfully", 201)

    return await call.once(execute)


@router.post("/messages", summary="Send a message through the project's first active channel", **SEND)
async def send_message(call: CallDep) -> Response:
    return await _send(call)


@router.post(
    "/messages/read",
    summary="Mark an inbound message as read (optionally show typing)",
    **at_meta(Envelope[Success], READ_ANSWER, request_body(ReadReceipt, READ_EXAMPLE)),
)
async def mark_read(call: CallDep) -> Response:
    async def execute() -> Response:
        body = await read_json_object(call.request)
        return ok(
            await service.mark_read(call.ctx, call.session, call.tenant, body), "Message marked as read"
        )

    return await call.once(execute)


@router.post("/{phone_number_id}/messages", summary="Send a message through a given phone number", **SEND)
async def send_message_from(phone_number_id: str, call: CallDep) -> Response:
    return await _send(call)


SENDS = (
    DirectRoute("POST", "/v1/messages", served_directly(_send)),
    DirectRoute("POST", "/v1/{phone_number_id}/messages", served_directly(_send), accepts=is_graph_id),
)
"""The two send routes as the app's edge serves them, ahead of FastAPI's routing and dependency
resolution (the busiest routes of the API); the routes above stay declared for the OpenAPI
document, and a path whose number is not a Graph id goes to them for its 400."""


@router.post(
    "/media",
    summary="Upload a media file to Meta (multipart: file, messaging_product)",
    **at_meta(Envelope[MediaId], MEDIA_EXAMPLE, request_body(MediaUpload, media_type="multipart/form-data")),
)
async def upload_media(call: CallDep, channel_id: str | None = CHANNEL_ID) -> Response:
    async def execute() -> Response:
        part = await read_upload(call.request)
        media_id = await media.upload_part(call.ctx, call.session, call.tenant, part, channel_id=channel_id)
        return ok({"id": media_id}, "Media uploaded successfully")

    return await call.once(execute)


@router.get(
    "/media/{media_id}/download",
    summary="Stream a media file's bytes with its original type",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file's bytes, with its MIME type as Content-Type",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        },
        **ASKING_META,
    },
)
async def download_media(media_id: str, ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    download = await media.open_media(ctx, session, tenant, media_id)
    headers = {"Content-Length": str(download.file_size)} if download.file_size is not None else None
    return StreamingResponse(
        download.response.aiter_raw(),
        media_type=download.mime_type,
        headers=headers,
        background=BackgroundTask(download.response.aclose),
    )


@router.delete(
    "/media/{media_id}",
    summary="Delete a media file at Meta",
    **at_meta(Envelope[Success], wrapped("Media deleted successfully", {"success": True})),
)
async def delete_media(media_id: str, ctx: ContextDep, session: SessionDep, tenant: TenantDep) -> Response:
    await media.delete_media(ctx, session, tenant, media_id)
    return ok({"success": True}, "Media deleted successfully")


@router.get(
    "/templates",
    summary="List message templates (filters, and Meta's cursors with limit)",
    **at_meta(PagedEnvelope[list[Template]], TEMPLATES_EXAMPLE),
)
async def list_templates(
    call: CallDep,
    status: str | None = Query(None, description="APPROVED, PENDING, REJECTED, …"),
    name: str | None = Query(None, description="Templates whose name contains this"),
    category: str | None = Query(None, description="UTILITY, MARKETING or AUTHENTICATION"),
    language: str | None = Query(None, description="A language code: id, en_US, …"),
    limit: str | None = typed_query(integer(1), "Page size: with it, one page of Meta's and its `paging`"),
    after: str | None = Query(None, description="Meta's cursor of the next page"),
    before: str | None = Query(None, description="Meta's cursor of the previous page"),
    channel_id: str | None = CHANNEL_ID,
) -> Response:
    request, ctx = call.request, call.ctx
    data, paging = await templates.summary_page(
        ctx, call.session, call.tenant, request.query_params, channel_id=channel_id
    )
    extra = None
    if paging is not None:
        extra = {"paging": templates.own_paging(paging, ctx.settings.base_url, request.url)}
    return ok(data, "Templates retrieved successfully", extra=extra)


@router.post(
    "/templates",
    summary="Create a message template and submit it for review",
    **at_meta(
        Envelope[TemplateCreated], TEMPLATE_CREATED_EXAMPLE, request_body(TemplateCreate, TEMPLATE_EXAMPLE)
    ),
)
async def create_template(call: CallDep, channel_id: str | None = CHANNEL_ID) -> Response:
    async def execute() -> Response:
        body = await read_json(call.request)
        data = await templates.create_template(
            call.ctx, call.session, call.tenant, body, channel_id=channel_id
        )
        return ok(data, "Template created successfully")

    return await call.once(execute)


@router.delete(
    "/templates/{name}",
    summary="Delete a message template (every language)",
    **at_meta(Envelope[Success], TEMPLATE_DELETED_EXAMPLE),
)
async def delete_template(
    name: str, ctx: ContextDep, session: SessionDep, tenant: TenantDep, channel_id: str | None = CHANNEL_ID
) -> Response:
    await templates.delete_template(ctx, session, tenant, name, channel_id=channel_id)
    return ok({"success": True}, "Template deleted successfully")


@router.get(
    "/profile",
    summary="Get the WhatsApp Business profile of a channel",
    **at_meta(Envelope[Profile], PROFILE_EXAMPLE),
)
async def get_profile(
    ctx: ContextDep, session: SessionDep, tenant: TenantDep, channel_id: str | None = CHANNEL_ID
) -> Response:
    data = await profile.get_profile(ctx, session, tenant, channel_id=channel_id)
    return ok(data, "Business profile retrieved successfully")


@router.post(
    "/profile",
    summary="Update the WhatsApp Business profile of a channel",
    **at_meta(
        Envelope[Success], PROFILE_UPDATED_EXAMPLE, request_body(ProfileUpdate, PROFILE_UPDATE_EXAMPLE)
    ),
)
async def update_profile(call: CallDep, channel_id: str | None = CHANNEL_ID) -> Response:
    async def execute() -> Response:
        body = await read_json(call.request)
        await profile.update_profile(call.ctx, call.session, call.tenant, body, channel_id=channel_id)
        return ok({"success": True}, "Business profile updated successfully")

    return await call.once(execute)
