"""Sandbox media: upload limits and types, metadata, the signed download URL, deletion."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.media import KB, MB
from kirem.sandbox.provisioning import ProvisionedNumber
from tests.unit.sandbox_support import FakeClock, SandboxHarness, bearer, running_sandbox

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


@pytest.fixture
async def sandbox(settings: Settings, database: Database) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database) as harness:
        yield harness


async def upload(
    sandbox: SandboxHarness,
    number: ProvisionedNumber,
    content: bytes,
    mime: str | None,
    filename: str = "file.bin",
    data: dict[str, str] | None = None,
) -> Any:
    form = {"messaging_product": "whatsapp"} if data is None else data
    if mime is not None and data is None:
        form["type"] = mime
    return await sandbox.client.post(
        f"/v23.0/{number.phone_number_id}/media",
        data=form,
        files={"file": (filename, content, mime or "application/octet-stream")},
        headers=bearer(number.access_token),
    )


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path.removeprefix("/sandbox") + "?" + parts.query


async def test_upload_metadata_download_delete(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    auth = bearer(number.access_token)
    response = await upload(sandbox, number, PNG, "image/png", "photo.png")
    assert response.status_code == 200, response.text
    media_id = response.json()["id"]
    assert media_id.isdigit() and set(response.json()) == {"id"}

    info = await sandbox.client.get(f"/v23.0/{media_id}", headers=auth)
    assert info.status_code == 200
    meta = info.json()
    assert set(meta) == {"messaging_product", "url", "mime_type", "sha256", "file_size", "id"}
    assert meta["messaging_product"] == "whatsapp" and meta["id"] == media_id
    assert meta["mime_type"] == "image/png"
    assert meta["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert meta["file_size"] == str(len(PNG))
    base = sandbox.runtime.settings.base_url
    assert meta["url"].startswith(f"{base}/sandbox/media/{media_id}/content?")
    assert parse_qs(urlsplit(meta["url"]).query)["hash"][0]

    chosen = await sandbox.client.get(f"/v23.0/{media_id}", params={"fields": "url,mime_type"}, headers=auth)
    assert set(chosen.json()) == {"url", "mime_type", "id"}  # Graph's field selection; id always

    checked = await sandbox.client.get(
        f"/v23.0/{media_id}", params={"phone_number_id": number.phone_number_id}, headers=auth
    )
    assert checked.status_code == 200
    mismatch = await sandbox.client.get(f"/v23.0/{media_id}", params={"phone_number_id": "1"}, headers=auth)
    assert mismatch.status_code == 400 and mismatch.json()["error"]["code"] == 100

    download = await sandbox.client.get(local_path(meta["url"]), headers=auth)
    assert download.status_code == 200
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert "photo.png" in download.headers["content-disposition"]

    without_token = await sandbox.client.get(local_path(meta["url"]))
    assert without_token.status_code == 401 and without_token.json()["error"]["code"] == 104
    tampered = local_path(meta["url"]).replace("hash=", "hash=0")
    assert (await sandbox.client.get(tampered, headers=auth)).status_code == 404
    guessed = f"/media/{media_id}/content"
    assert (await sandbox.client.get(guessed, headers=auth)).status_code == 404

    deleted = await sandbox.client.delete(f"/v23.0/{media_id}", headers=auth)
    assert deleted.status_code == 200 and deleted.json() == {"success": True}
    gone = await sandbox.client.get(f"/v23.0/{media_id}", headers=auth)
    assert gone.status_code == 400
    assert gone.json()["error"]["code"] == 100 and gone.json()["error"]["error_subcode"] == 33
    assert (await sandbox.client.get(local_path(meta["url"]), headers=auth)).status_code == 400
    again = await sandbox.client.delete(f"/v23.0/{media_id}", headers=auth)
    assert again.status_code == 400


async def test_download_url_expires_after_five_minutes(settings: Settings, database: Database) -> None:
    clock = FakeClock()
    async with running_sandbox(settings, database, clock=clock) as sandbox:
        number = await sandbox.provision()
        auth = bearer(number.access_token)
        media_id = (await upload(sandbox, number, PNG, "image/png")).json()["id"]
        url = (await sandbox.client.get(f"/v23.0/{media_id}", headers=auth)).json()["url"]
        clock.advance(minutes=4)
        assert (await sandbox.client.get(local_path(url), headers=auth)).status_code == 200
        clock.advance(minutes=2)
        expired = await sandbox.client.get(local_path(url), headers=auth)
        assert expired.status_code == 404 and expired.json()["error"]["code"] == 100


async def test_media_of_another_number_is_invisible(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    other = await sandbox.provision()
    media_id = (await upload(sandbox, number, PNG, "image/png")).json()["id"]
    url = (await sandbox.client.get(f"/v23.0/{media_id}", headers=bearer(number.access_token))).json()["url"]
    foreign = bearer(other.access_token)
    for response in (
        await sandbox.client.get(f"/v23.0/{media_id}", headers=foreign),
        await sandbox.client.delete(f"/v23.0/{media_id}", headers=foreign),
        await sandbox.client.get(local_path(url), headers=foreign),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["error_subcode"] == 33
    cross_upload = await sandbox.client.post(
        f"/v23.0/{number.phone_number_id}/media",
        data={"messaging_product": "whatsapp", "type": "image/png"},
        files={"file": ("a.png", PNG, "image/png")},
        headers=foreign,
    )
    assert cross_upload.status_code == 400 and cross_upload.json()["error"]["error_subcode"] == 33


@pytest.mark.parametrize(
    ("mime", "limit"),
    [
        ("image/jpeg", 5 * MB),
        ("image/png", 5 * MB),
        ("image/webp", 500 * KB),
        ("audio/ogg", 16 * MB),
        ("video/mp4", 16 * MB),
    ],
)
async def test_size_limits_per_type(sandbox: SandboxHarness, mime: str, limit: int) -> None:
    number = await sandbox.provision()
    assert (await upload(sandbox, number, b"x" * limit, mime)).status_code == 200
    too_big = await upload(sandbox, number, b"x" * (limit + 1), mime)
    assert too_big.status_code == 400
    assert too_big.json()["error"]["code"] == 100
    assert "larger than" in too_big.json()["error"]["error_data"]["details"]


async def test_document_types_and_the_mime_type_sources(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    pdf = await upload(sandbox, number, b"%PDF-1.4 sample", "application/pdf", "a.pdf")
    assert pdf.status_code == 200
    # No type field: the part's content type is used, then the file name.
    by_part = await upload(
        sandbox, number, b"hello", None, "notes.txt", data={"messaging_product": "whatsapp"}
    )
    assert by_part.status_code == 200
    info = await sandbox.client.get(f"/v23.0/{by_part.json()['id']}", headers=bearer(number.access_token))
    assert info.json()["mime_type"] == "text/plain"
    voice = await upload(sandbox, number, b"OggS...", "audio/ogg; codecs=opus", "voice.ogg")
    assert voice.status_code == 200


@pytest.mark.parametrize(
    ("content", "mime", "data", "needle"),
    [
        (b"GIF89a", "image/gif", None, "Received file of type 'image/gif'"),
        (b"", "image/png", None, "empty"),
        (PNG, "image/png", {"type": "image/png"}, "messaging_product"),
        (PNG, "image/png", {"messaging_product": "telegram", "type": "image/png"}, "messaging_product"),
    ],
)
async def test_upload_errors(
    sandbox: SandboxHarness, content: bytes, mime: str, data: dict[str, str] | None, needle: str
) -> None:
    number = await sandbox.provision()
    response = await upload(sandbox, number, content, mime, data=data)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100
    assert needle in error["message"] + error.get("error_data", {}).get("details", "")


async def test_upload_without_a_file(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    path = f"/v23.0/{number.phone_number_id}/media"
    auth = bearer(number.access_token)
    as_json = await sandbox.client.post(path, json={"messaging_product": "whatsapp"}, headers=auth)
    assert as_json.status_code == 400
    assert as_json.json()["error"]["message"] == "(#100) The parameter file is required."
    no_file = await sandbox.client.post(path, data={"messaging_product": "whatsapp"}, headers=auth)
    assert no_file.status_code == 400 and no_file.json()["error"]["code"] == 100


async def test_phone_number_node(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision(verified_name="Toko Budi")
    auth = bearer(number.access_token)
    node = await sandbox.client.get(f"/v23.0/{number.phone_number_id}", headers=auth)
    digits = number.display_phone_number
    assert node.json() == {
        "id": number.phone_number_id,
        "display_phone_number": f"+1 {digits[1:4]}-{digits[4:7]}-{digits[7:]}",
        "verified_name": "Toko Budi",
        "quality_rating": "GREEN",
    }
    fields = await sandbox.client.get(
        f"/v23.0/{number.phone_number_id}",
        params={"fields": "name_status,code_verification_status"},
        headers=auth,
    )
    assert fields.json() == {
        "name_status": "APPROVED",
        "code_verification_status": "VERIFIED",
        "id": number.phone_number_id,
    }
    unknown = await sandbox.client.get(
        f"/v23.0/{number.phone_number_id}", params={"fields": "nope"}, headers=auth
    )
    assert unknown.status_code == 400 and "nonexisting field (nope)" in unknown.json()["error"]["message"]
    # Meta's fields the sandbox has no value for are left out, not refused (pywa asks for them all)
    everything = await sandbox.client.get(
        f"/v23.0/{number.phone_number_id}",
        params={"fields": "id,verified_name,conversational_automation,is_on_biz_app,health_status"},
        headers=auth,
    )
    assert everything.json() == {"id": number.phone_number_id, "verified_name": "Toko Budi"}
