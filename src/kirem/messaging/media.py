"""Media: upload to Meta within its limits, and stream a media id's bytes back to the caller."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.body import Upload
from kirem.api.responses import ApiError, invalid, not_found
from kirem.context import AppContext
from kirem.db.scope import for_project
from kirem.messaging.media_rules import check_upload
from kirem.messaging.models import MediaRef
from kirem.messaging.service import graph_and_token
from kirem.meta.client import GraphClient, MetaApiError, media_url
from kirem.meta.ids import is_graph_id
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant, resolve_channel

DEFAULT_MIME = "application/octet-stream"
_MIME = re.compile(r"^[\w.+-]+/[\w.+-]+( *;[ \w.+=\"-]*)*$", re.ASCII)
"""A media type fit for a Content-Type header (Meta's answer is not trusted with raw header bytes)."""


def upload_mime_type(declared: str | None, filename: str) -> str:
    """The part's declared type, or one guessed from the file name when the client sent none."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or declared or "application/octet-stream"


async def upload_media(
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    *,
    filename: str,
    content: bytes,
    mime_type: str,
    channel_id: str | None = None,
) -> str:
    rejection = check_upload(mime_type, len(content))
    if rejection is not None:
        raise ApiError(rejection.status, rejection.message, {rejection.field: rejection.message})
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    answer = await graph.upload_media(
        channel.phone_number_id, token, filename=filename, content=content, mime_type=mime_type
    )
    media_id: str = answer["id"]  # the client checked it is Meta's id
    session.add(
        MediaRef(
            project_id=tenant.project_id,
            channel_id=channel.id,
            media_id=media_id,
            mime_type=mime_type,
            file_size=len(content),
            filename=filename[:255],
        )
    )
    await session.commit()
    return media_id


async def upload_part(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, part: Upload, *, channel_id: str | None
) -> str:
    """Upload the ``file`` part of a multipart request (its type guessed from the name if undeclared)."""
    mime_type = upload_mime_type(part.content_type, part.filename)
    return await upload_media(
        ctx,
        session,
        tenant,
        filename=part.filename,
        content=part.content,
        mime_type=mime_type,
        channel_id=channel_id,
    )


@dataclass
class MediaDownload:
    response: httpx.Response
    mime_type: str
    file_size: int | None


async def _media_channel(session: AsyncSession, tenant: Tenant, media_id: str) -> Channel:
    stmt = for_project(MediaRef, tenant.project_id).where(MediaRef.media_id == media_id)
    ref = (await session.execute(stmt)).scalar_one_or_none()
    if ref is not None:
        channel = (
            await session.execute(select(Channel).where(Channel.id == ref.channel_id))
        ).scalar_one_or_none()
        if channel is not None and channel.status == "active":
            return channel
    return await resolve_channel(session, tenant)


async def _ask_meta(
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    media_id: str,
    call: Callable[[GraphClient, str, str], Awaitable[dict[str, Any]]],
) -> tuple[Channel, dict[str, Any]]:
    """``call(graph, token, phone_number_id)`` on the media's channel; ids Meta does not know are 404."""
    check_media_id(media_id)
    channel = await _media_channel(session, tenant, media_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    try:
        return channel, await call(graph, token, channel.phone_number_id)
    except MetaApiError as exc:
        if exc.http_status in (400, 404):
            raise not_found("Media") from exc
        raise


def check_media_id(media_id: str) -> None:
    if not is_graph_id(media_id):
        raise invalid({"media_id": "must be Meta's numeric media id"})


async def media_info(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, media_id: str
) -> tuple[Channel, dict[str, Any]]:
    """Meta's metadata of a media id (its temporary URL, type, size); ids of anything else are 404."""
    channel, info = await _ask_meta(
        ctx, session, tenant, media_id, lambda graph, token, number: graph.media_info(media_id, token, number)
    )
    if not media_url(info.get("url")):  # another kind of node (a phone number, a WABA…)
        raise not_found("Media")
    return channel, info


async def delete_media(ctx: AppContext, session: AsyncSession, tenant: Tenant, media_id: str) -> None:
    """Delete a media id at Meta (and Kirem's note of its channel); ids Meta does not know are 404."""
    await _ask_meta(
        ctx,
        session,
        tenant,
        media_id,
        lambda graph, token, number: graph.delete_media(media_id, token, number),
    )
    stmt = for_project(MediaRef, tenant.project_id).where(MediaRef.media_id == media_id)
    for ref in (await session.execute(stmt)).scalars():
        await session.delete(ref)
    await session.commit()


async def open_media(ctx: AppContext, session: AsyncSession, tenant: Tenant, media_id: str) -> MediaDownload:
    """Ask Meta where the media lives and open a stream of it; unknown ids are 404."""
    channel, info = await media_info(ctx, session, tenant, media_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    response = await graph.open_download(info["url"], token)
    declared = [info.get("mime_type"), response.headers.get("content-type")]
    size = str(info.get("file_size"))
    return MediaDownload(
        response=response,
        mime_type=next((t for t in declared if isinstance(t, str) and _MIME.match(t)), DEFAULT_MIME),
        file_size=int(size) if size.isascii() and size.isdigit() else None,
    )
