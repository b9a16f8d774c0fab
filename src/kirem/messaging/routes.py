"""Public API routes for sending: messages, read receipts, media, templates and profile."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from kirem.api.body import read_json, read_json_object, read_upload
from kirem.api.deps import get_context, get_session, get_tenant
from kirem.api.idempotency import idempotent
from kirem.api.responses import ok
from kirem.context import AppContext
from kirem.conversations.service import joined_conversation
from kirem.kit.errors import invalid
from kirem.messaging import media, profile, service, templates
from kirem.meta.ids import is_graph_id
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1", tags=["messaging"])


async def _send(
    request: Request, ctx: AppContext, session: AsyncSession, tenant: Tenant, phone_number_id: str | None
) -> Response:
    async def execute() -> Response:
        body = await read_json(request)
        answer, was_read = await service.send_message(
            ctx, session, tenant, body, conversation_of=joined_conversation, phone_number_id=phone_number_id
        )
        if was_read:
            return ok(answer, "Message marked as read")
        return ok(answer, "Message sent successfully", 201)

    return await idempotent(request, ctx, tenant, execute)


@router.post("/messages", summary="Send a message through the project's first active channel")
async def send_message(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    return await _send(request, ctx, session, tenant, None)


@router.post("/messages/read", summary="Mark an inbound message as read (optionally show typing)")
async def mark_read(
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        answer = await service.mark_read(ctx, session, tenant, body)
        return ok(answer, "Message marked as read")

    return await idempotent(request, ctx, tenant, execute)


@router.post("/{phone_number_id}/messages", summary="Send a message through a given phone number")
async def send_message_from(
    phone_number_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    if not is_graph_id(phone_number_id):
        raise invalid({"phone_number_id": "must be Meta's numeric phone number id"})
    return await _send(request, ctx, session, tenant, phone_number_id)


@router.post("/media", summary="Upload a media file to Meta (multipart: file, messaging_product)")
async def upload_media(
    request: Request,
    channel_id: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        media_id = await media.upload_part(
            ctx, session, tenant, await read_upload(request), channel_id=channel_id
        )
        return ok({"id": media_id}, "Media uploaded successfully")

    return await idempotent(request, ctx, tenant, execute)


@router.get("/media/{media_id}/download", summary="Stream a media file's bytes with its original type")
async def download_media(
    media_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    download = await media.open_media(ctx, session, tenant, media_id)
    headers = {"Content-Length": str(download.file_size)} if download.file_size is not None else None
    return StreamingResponse(
        download.response.aiter_raw(),
        media_type=download.mime_type,
        headers=headers,
        background=BackgroundTask(download.response.aclose),
    )


@router.delete("/media/{media_id}", summary="Delete a media file at Meta")
async def delete_media(
    media_id: str,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    await media.delete_media(ctx, session, tenant, media_id)
    return ok({"success": True}, "Media deleted successfully")


@router.get("/templates", summary="List message templates (filters, and Meta's cursors with limit)")
async def list_templates(
    request: Request,
    status: str | None = Query(None),
    name: str | None = Query(None),
    category: str | None = Query(None),
    language: str | None = Query(None),
    limit: str | None = Query(None),
    after: str | None = Query(None),
    before: str | None = Query(None),
    channel_id: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    data, paging = await templates.summary_page(
        ctx, session, tenant, request.query_params, channel_id=channel_id
    )
    extra = None
    if paging is not None:
        extra = {"paging": templates.own_paging(paging, ctx.settings.base_url, request.url)}
    return ok(data, "Templates retrieved successfully", extra=extra)


@router.post("/templates", summary="Create a message template and submit it for review")
async def create_template(
    request: Request,
    channel_id: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json(request)
        data = await templates.create_template(ctx, session, tenant, body, channel_id=channel_id)
        return ok(data, "Template created successfully")

    return await idempotent(request, ctx, tenant, execute)


@router.delete("/templates/{name}", summary="Delete a message template (every language)")
async def delete_template(
    name: str,
    channel_id: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    await templates.delete_template(ctx, session, tenant, name, channel_id=channel_id)
    return ok({"success": True}, "Template deleted successfully")


@router.get("/profile", summary="Get the WhatsApp Business profile of a channel")
async def get_profile(
    channel_id: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    data = await profile.get_profile(ctx, session, tenant, channel_id=channel_id)
    return ok(data, "Business profile retrieved successfully")


@router.post("/profile", summary="Update the WhatsApp Business profile of a channel")
async def update_profile(
    request: Request,
    channel_id: str | None = Query(None),
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json(request)
        await profile.update_profile(ctx, session, tenant, body, channel_id=channel_id)
        return ok({"success": True}, "Business profile updated successfully")

    return await idempotent(request, ctx, tenant, execute)
