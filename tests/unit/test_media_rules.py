"""Media upload limits: Meta's types and sizes, 400 for an unsupported type, 413 for a too-large file."""

from __future__ import annotations

import dataclasses

import pytest

from kirem.messaging.media_rules import (
    LIMITS,
    MAX_UPLOAD_BYTES,
    MediaRejection,
    check_upload,
    media_kind,
    normalize_mime,
)

KB = 1024
MB = 1024 * KB


@pytest.mark.parametrize(
    ("mime", "kind"),
    [
        ("image/jpeg", "image"),
        ("image/png", "image"),
        ("video/mp4", "video"),
        ("video/3gpp", "video"),
        ("audio/aac", "audio"),
        ("audio/amr", "audio"),
        ("audio/mpeg", "audio"),
        ("audio/mp4", "audio"),
        ("audio/ogg", "audio"),
        ("text/plain", "document"),
        ("application/pdf", "document"),
        ("application/msword", "document"),
        ("application/vnd.ms-excel", "document"),
        ("application/vnd.ms-powerpoint", "document"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document"),
        ("application/vnd.openxmlformats-officedocument.presentationml.presentation", "document"),
        ("image/webp", "sticker"),
        ("image/JPEG; charset=binary", "image"),
        ("  Audio/OGG ; codecs=opus", "audio"),
        ("image/gif", None),
        ("application/zip", None),
        ("", None),
    ],
)
def test_media_kind(mime: str, kind: str | None) -> None:
    assert media_kind(mime) == kind


def test_normalize_mime() -> None:
    assert normalize_mime("Image/PNG; name=a.png") == "image/png"


def test_max_upload_is_100_mb() -> None:
    assert MAX_UPLOAD_BYTES == 100 * MB


@pytest.mark.parametrize(
    ("mime", "limit"),
    [
        ("image/jpeg", 5 * MB),
        ("video/mp4", 16 * MB),
        ("audio/ogg", 16 * MB),
        ("application/pdf", 100 * MB),
        ("image/webp", 500 * KB),
    ],
)
def test_files_up_to_the_limit_pass(mime: str, limit: int) -> None:
    assert check_upload(mime, 1) is None
    assert check_upload(mime, limit) is None


@pytest.mark.parametrize(
    ("mime", "limit", "named"),
    [
        ("image/png", 5 * MB, "image files may be at most 5 MB"),
        ("video/3gpp", 16 * MB, "video files may be at most 16 MB"),
        ("audio/mpeg", 16 * MB, "audio files may be at most 16 MB"),
        ("text/plain", 100 * MB, "document files may be at most 100 MB"),
        ("image/webp", 500 * KB, "sticker files may be at most 500 KB"),
    ],
)
def test_files_over_the_limit_are_413(mime: str, limit: int, named: str) -> None:
    rejection = check_upload(mime, limit + 1)
    assert rejection is not None
    assert (rejection.status, rejection.field) == (413, "file")
    assert rejection.message.startswith(named)


def test_too_large_message_gives_the_size() -> None:
    rejection = check_upload("image/jpeg", 6 * MB + MB // 2)
    assert rejection == MediaRejection(
        413,
        "file",
        "image files may be at most 5 MB, this one is 6.5 MB (Meta's media size limit: "
        "Meta fails a larger file when the message is sent, error 131053 Media upload error)",
    )


def test_the_sticker_limit_names_the_meta_rule_it_anticipates() -> None:
    rejection = check_upload("image/webp", 500 * KB + 1)
    assert rejection is not None and "Meta's animated sticker limit" in rejection.message


def test_unsupported_image_type_lists_the_image_types() -> None:
    rejection = check_upload("image/gif", 10)
    assert rejection is not None
    assert (rejection.status, rejection.field) == (400, "file")
    assert "image/gif" in rejection.message
    assert "image/jpeg, image/png, image/webp (sticker)" in rejection.message
    assert "application/pdf" not in rejection.message


@pytest.mark.parametrize("mime", ["application/zip", "text/html", "", "nonsense"])
def test_unsupported_other_type_lists_every_type(mime: str) -> None:
    rejection = check_upload(mime, 10)
    assert rejection is not None
    assert rejection.status == 400
    for limit in LIMITS:
        assert all(m in rejection.message for m in limit.mime_types)


def test_unsupported_type_is_reported_before_size() -> None:
    rejection = check_upload("application/zip", 500 * MB)
    assert rejection is not None
    assert rejection.status == 400


def test_empty_file_is_rejected() -> None:
    assert check_upload("image/png", 0) == MediaRejection(400, "file", "the uploaded file is empty")


def test_rejection_is_frozen() -> None:
    rejection = MediaRejection(400, "file", "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rejection.status = 500  # type: ignore[misc]
