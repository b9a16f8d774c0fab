"""Meta's media upload limits, checked before a file is sent to ``/{phone_number_id}/media``.

Supported types and sizes are those of Meta's Cloud API media reference (the OpenAPI file only shows
``ogg``, ``jpeg`` and ``webp`` upload examples): image jpeg/png 5 MB; video mp4/3gpp 16 MB; audio
aac/amr/mpeg/mp4/ogg 16 MB; documents (plain text, PDF, Microsoft Office) 100 MB; stickers webp.
Meta caps animated stickers at 500 KB and static ones at 100 KB; telling them apart would mean parsing
the WebP file, so the 500 KB limit is applied to every sticker and Meta judges static ones itself.
MB and KB are binary (1 MB = 1024 * 1024 bytes). Meta itself takes a larger upload and fails the
message that uses it (error 131053), so a size refusal names the Meta rule it anticipates.
"""

from __future__ import annotations

from dataclasses import dataclass

KB = 1024
MB = 1024 * KB


@dataclass(frozen=True)
class MediaLimit:
    kind: str
    mime_types: tuple[str, ...]
    max_bytes: int


@dataclass(frozen=True)
class MediaRejection:
    status: int
    field: str
    message: str


LIMITS = (
    MediaLimit("image", ("image/jpeg", "image/png"), 5 * MB),
    MediaLimit("video", ("video/mp4", "video/3gpp"), 16 * MB),
    MediaLimit("audio", ("audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"), 16 * MB),
    MediaLimit(
        "document",
        (
            "text/plain",
            "application/pdf",
            "application/msword",
            "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        100 * MB,
    ),
    MediaLimit("sticker", ("image/webp",), 500 * KB),
)
MAX_UPLOAD_BYTES = max(limit.max_bytes for limit in LIMITS)
_BY_MIME = {mime: limit for limit in LIMITS for mime in limit.mime_types}


def normalize_mime(mime_type: str) -> str:
    """``"image/JPEG; charset=x"`` → ``"image/jpeg"``."""
    return mime_type.split(";", 1)[0].strip().lower()


def media_kind(mime_type: str) -> str | None:
    """The kind ("image", "video", "audio", "document" or "sticker") of a supported MIME type, else None."""
    limit = _BY_MIME.get(normalize_mime(mime_type))
    return limit.kind if limit else None


def check_upload(mime_type: str, size: int) -> MediaRejection | None:
    """None when Meta accepts this type and size; else a 400 (type, empty file) or 413 (too large)."""
    mime = normalize_mime(mime_type)
    limit = _BY_MIME.get(mime)
    if limit is None:
        return MediaRejection(400, "file", _unsupported_message(mime))
    if size <= 0:
        return MediaRejection(400, "file", "the uploaded file is empty")
    if size > limit.max_bytes:
        return MediaRejection(
            413,
            "file",
            f"{limit.kind} files may be at most {_human(limit.max_bytes)}, this one is {_human(size)} "
            f"({_anticipated_rule(limit.kind)})",
        )
    return None


def _anticipated_rule(kind: str) -> str:
    """Which of Meta's rules a size refusal anticipates: Meta takes the upload and fails the send."""
    consequence = "Meta fails a larger file when the message is sent, error 131053 Media upload error"
    if kind == "sticker":
        return f"Meta's animated sticker limit, static stickers 100 KB: {consequence}"
    return f"Meta's media size limit: {consequence}"


def _unsupported_message(mime: str) -> str:
    family = mime.split("/", 1)[0]
    supported = [m for m in _BY_MIME if family in ("image", "video", "audio") and m.startswith(f"{family}/")]
    listed = ", ".join(_describe(m) for m in supported or _BY_MIME)
    return f"unsupported media type {mime or '(none)'}; supported types are {listed}"


def _describe(mime: str) -> str:
    return f"{mime} (sticker)" if _BY_MIME[mime].kind == "sticker" else mime


def _human(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.1f}".removesuffix(".0") + " MB"
    return f"{size / KB:.1f}".removesuffix(".0") + " KB"
