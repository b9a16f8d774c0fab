"""Media: Meta's supported types and size limits, storage, metadata and signed download URLs.

A download URL lives five minutes like Meta's lookaside URL, carries an HMAC so it cannot be
guessed, and still needs the owning number's access token, as Meta's does.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.config import Settings
from kirem.phones import is_ascii_number
from kirem.sandbox.errors import MetaError, invalid_parameter, unsupported_request
from kirem.sandbox.ids import numeric_id
from kirem.sandbox.models import SandboxMedia, SandboxNumber
from kirem.sandbox.runtime import MOUNT_PATH

MB = 1024 * 1024
KB = 1024

SUPPORTED_MEDIA: dict[str, tuple[str, int]] = {
    "audio/aac": ("audio", 16 * MB),
    "audio/amr": ("audio", 16 * MB),
    "audio/mpeg": ("audio", 16 * MB),
    "audio/mp4": ("audio", 16 * MB),
    "audio/ogg": ("audio", 16 * MB),
    "text/plain": ("document", 100 * MB),
    "application/pdf": ("document", 100 * MB),
    "application/vnd.ms-powerpoint": ("document", 100 * MB),
    "application/msword": ("document", 100 * MB),
    "application/vnd.ms-excel": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("document", 100 * MB),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("document", 100 * MB),
    "image/jpeg": ("image", 5 * MB),
    "image/png": ("image", 5 * MB),
    "image/webp": ("sticker", 500 * KB),
    "video/mp4": ("video", 16 * MB),
    "video/3gpp": ("video", 16 * MB),
}
"""MIME type → (kind, largest size in bytes), per Meta's supported media types."""

URL_LIFETIME = timedelta(minutes=5)


def base_mime(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()


def upload_mime(form_type: str | None, part_type: str | None, filename: str | None) -> str | None:
    """The upload's MIME type: the ``type`` field, else the file part's type, else the file name's."""
    for candidate in (form_type, part_type):
        if candidate and "/" in candidate and base_mime(candidate) != "application/octet-stream":
            return candidate.strip()
    if filename:
        guessed, _ = mimetypes.guess_type(filename)
        if guessed:
            return guessed
    return None


def check_upload(mime: str | None, size: int) -> None:
    supported = SUPPORTED_MEDIA.get(base_mime(mime or ""))
    if supported is None:
        raise MetaError(
            400,
            100,
            "(#100) Param file must be a file with one of the following types: "
            f"{', '.join(SUPPORTED_MEDIA)}. Received file of type '{mime or 'unknown'}'.",
        )
    kind, limit = supported
    if size == 0:
        raise invalid_parameter("The uploaded file is empty.")
    if size > limit:
        raise invalid_parameter(
            f"File of {size} bytes is larger than the {_human(limit)} allowed for {kind} "
            f"({base_mime(mime or '')})."
        )


def _human(size: int) -> str:
    return f"{size // MB} MB" if size >= MB else f"{size // KB} KB"


def media_kind(mime: str) -> str | None:
    supported = SUPPORTED_MEDIA.get(base_mime(mime))
    return supported[0] if supported else None


async def store_media(
    session: AsyncSession,
    *,
    phone_number_id: str,
    data: bytes,
    mime_type: str,
    filename: str | None,
    now: datetime,
) -> SandboxMedia:
    media = SandboxMedia(
        id=numeric_id(16),
        phone_number_id=phone_number_id,
        mime_type=mime_type,
        sha256=hashlib.sha256(data).hexdigest(),
        file_size=len(data),
        filename=filename,
        data=data,
        created_at=now,
    )
    session.add(media)
    await session.flush()
    return media


async def owned_media(
    session: AsyncSession,
    *,
    media_id: str,
    number: SandboxNumber,
    method: str,
    phone_number_id: str | None = None,
) -> SandboxMedia:
    """The media if the token's number owns it; Meta answers the same for missing and foreign ids."""
    media = await session.get(SandboxMedia, media_id)
    if media is None or media.phone_number_id != number.phone_number_id:
        raise unsupported_request(method, media_id)
    if phone_number_id is not None and phone_number_id != media.phone_number_id:
        raise invalid_parameter(f"Media {media_id} does not belong to phone number {phone_number_id}.")
    return media


def _url_signature(secret: str, media_id: str, expires: int) -> str:
    message = f"sandbox-media:{media_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def download_url(settings: Settings, secret: str, media_id: str, now: datetime) -> str:
    expires = int((now + URL_LIFETIME).timestamp())
    signature = _url_signature(secret, media_id, expires)
    query = f"mid={media_id}&ext={expires}&hash={signature}"
    return f"{settings.base_url}{MOUNT_PATH}/media/{media_id}/content?{query}"


def check_download(secret: str, media_id: str, ext: str | None, signature: str | None, now: datetime) -> bool:
    if not ext or not signature or not is_ascii_number(ext) or len(ext) > 12:
        return False
    if int(ext) < now.timestamp():
        return False
    return hmac.compare_digest(_url_signature(secret, media_id, int(ext)), signature)


def media_metadata(media: SandboxMedia, url: str) -> dict[str, Any]:
    """As in the OpenAPI example: ``file_size`` is a string there, so it is one here too."""
    return {
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": media.mime_type,
        "sha256": media.sha256,
        "file_size": str(media.file_size),
        "id": media.id,
    }
