"""The customer simulator: every inbound type arrives as Meta's ``messages`` webhook."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from kirem.bsuid import is_bsuid
from kirem.config import Settings
from kirem.db.engine import Database
from tests.unit.sandbox_support import SandboxHarness, bearer, mutations, running_sandbox


@pytest.fixture
async def sandbox(settings: Settings, database: Database) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database) as harness:
        yield harness


async def test_text_arrives_in_metas_format(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await sandbox.inbound(number, {"type": "text", "text": {"body": "Halo"}})
    assert response.status_code == 200
    wamid = response.json()["wamid"]
    assert response.json() == {"wamid": wamid} and wamid.startswith("wamid.")
    await sandbox.runtime.idle()

    [post] = sandbox.recorder.posts
    assert post.signature_valid
    assert post.headers["content-type"] == "application/json"
    user_id = post.value["contacts"][0]["user_id"]
    assert is_bsuid(user_id) and user_id.startswith("ID.")
    assert post.payload == {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": number.waba_id,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": number.display_phone_number,
                                "phone_number_id": number.phone_number_id,
                            },
                            "contacts": [
                                {"profile": {"name": "Budi"}, "wa_id": "62812345678", "user_id": user_id}
                            ],
                            "messages": [
                                {
                                    "from": "62812345678",
                                    "from_user_id": user_id,
                                    "id": wamid,
                                    "timestamp": post.value["messages"][0]["timestamp"],
                                    "text": {"body": "Halo"},
                                    "type": "text",
                                }
                            ],
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }
    assert post.value["messages"][0]["timestamp"].isdigit()
    assert b": " not in post.body and b", " not in post.body  # compact JSON


async def test_image_without_id_gets_a_downloadable_sample(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await sandbox.inbound(number, {"type": "image", "image": {"caption": "Foto"}})
    assert response.status_code == 200, response.text
    await sandbox.runtime.idle()
    [message] = sandbox.recorder.messages()
    image = message["image"]
    assert image["caption"] == "Foto" and image["mime_type"] == "image/png"

    auth = bearer(number.access_token)
    info = (await sandbox.client.get(f"/v23.0/{image['id']}", headers=auth)).json()
    url = urlsplit(info["url"])
    download = await sandbox.client.get(url.path.removeprefix("/sandbox") + "?" + url.query, headers=auth)
    assert download.status_code == 200
    assert download.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert download.headers["content-type"] == "image/png"
    # Webhooks carry the digest in base64 as Meta does; the media node in hex.
    digest = hashlib.sha256(download.content).digest()
    assert image["sha256"] == base64.b64encode(digest).decode()
    assert info["sha256"] == digest.hex()


@pytest.mark.parametrize(
    ("kind", "extra", "signature"),
    [
        ("video", {"caption": "Clip"}, b"ftyp"),
        ("audio", {"voice": True}, b"OggS"),
        ("document", {"filename": "invoice.pdf"}, b"%PDF"),
        ("sticker", {}, b"WEBP"),
    ],
)
async def test_other_media_kinds(
    sandbox: SandboxHarness, kind: str, extra: dict[str, Any], signature: bytes
) -> None:
    number = await sandbox.provision()
    assert (await sandbox.inbound(number, {"type": kind, kind: extra})).status_code == 200
    await sandbox.runtime.idle()
    [message] = sandbox.recorder.messages()
    body = message[kind]
    assert {"mime_type", "sha256", "id"} <= set(body)
    if kind == "audio":
        assert body["voice"] is True
    if kind == "document":
        assert body["filename"] == "invoice.pdf"
    if kind == "sticker":
        assert body["animated"] is False
    auth = bearer(number.access_token)
    url = urlsplit((await sandbox.client.get(f"/v23.0/{body['id']}", headers=auth)).json()["url"])
    content = (
        await sandbox.client.get(url.path.removeprefix("/sandbox") + "?" + url.query, headers=auth)
    ).content
    assert signature in content[:16]


async def test_media_by_id_uses_the_uploaded_file(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    uploaded = await sandbox.client.post(
        f"/v23.0/{number.phone_number_id}/media",
        data={"messaging_product": "whatsapp", "type": "image/jpeg"},
        files={"file": ("p.jpg", b"\xff\xd8\xff\xe0 jpeg", "image/jpeg")},
        headers=bearer(number.access_token),
    )
    media_id = uploaded.json()["id"]
    assert (await sandbox.inbound(number, {"type": "image", "image": {"id": media_id}})).status_code == 200
    unknown = await sandbox.inbound(number, {"type": "image", "image": {"id": "999"}})
    assert (
        unknown.status_code == 400 and "message.image.id" in unknown.json()["error"]["error_data"]["details"]
    )
    await sandbox.runtime.idle()
    [message] = sandbox.recorder.messages()
    assert message["image"]["id"] == media_id and message["image"]["mime_type"] == "image/jpeg"


async def test_button_and_list_replies_with_context(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    await sandbox.inbound(number, {"type": "text", "text": {"body": "menu"}})
    sent = await sandbox.send(
        number,
        {
            "messaging_product": "whatsapp",
            "to": "62812345678",
            "type": "interactive",
            "interactive": {
                "type": "button",
                "body": {"text": "Pilih"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Ya"}}]},
            },
        },
    )
    wamid = sent.json()["messages"][0]["id"]
    button = {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Ya"}},
        "context": {"id": wamid},
    }
    row = {
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "list_reply": {"id": "express", "title": "Express", "description": "Besok sampai"},
        },
        "context": {"id": wamid},
    }
    assert (await sandbox.inbound(number, button)).status_code == 200
    assert (await sandbox.inbound(number, row)).status_code == 200
    await sandbox.runtime.idle()
    _, pressed, picked = sandbox.recorder.messages()
    assert pressed["type"] == "interactive"
    assert pressed["interactive"] == {"type": "button_reply", "button_reply": {"id": "yes", "title": "Ya"}}
    assert pressed["context"] == {"from": number.display_phone_number, "id": wamid}
    assert picked["interactive"] == {
        "type": "list_reply",
        "list_reply": {"id": "express", "title": "Express", "description": "Besok sampai"},
    }


async def test_inbound_webhooks_keep_their_order(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    for index in range(6):
        await sandbox.inbound(number, {"type": "text", "text": {"body": f"m{index}"}})
    await sandbox.runtime.idle()
    assert [m["text"]["body"] for m in sandbox.recorder.messages()] == [f"m{i}" for i in range(6)]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"type": "location", "location": {"latitude": -6.2, "longitude": 106.8, "name": "Monas"}},
            {"location": {"latitude": -6.2, "longitude": 106.8, "name": "Monas"}},
        ),
        (
            {
                "type": "contacts",
                "contacts": [{"name": {"formatted_name": "Ani"}, "phones": [{"phone": "+62 1"}]}],
            },
            {"contacts": [{"name": {"formatted_name": "Ani"}, "phones": [{"phone": "+62 1"}]}]},
        ),
        (
            {"type": "button", "button": {"payload": "STOP", "text": "Stop"}, "context": {"id": "wamid.X"}},
            {"button": {"payload": "STOP", "text": "Stop"}},
        ),
        (
            {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
            {"reaction": {"message_id": "wamid.X", "emoji": "👍"}},
        ),
        (
            {
                "type": "order",
                "order": {
                    "catalog_id": "1",
                    "text": "",
                    "product_items": [
                        {"product_retailer_id": "a", "quantity": 2, "item_price": 3, "currency": "IDR"}
                    ],
                },
            },
            {
                "order": {
                    "catalog_id": "1",
                    "text": "",
                    "product_items": [
                        {"product_retailer_id": "a", "quantity": 2, "item_price": 3, "currency": "IDR"}
                    ],
                }
            },
        ),
        (
            {
                "type": "text",
                "text": {"body": "Info?"},
                "referral": {"source_url": "https://fb.me/x", "source_id": "1", "source_type": "ad"},
            },
            {
                "text": {"body": "Info?"},
                "referral": {"source_url": "https://fb.me/x", "source_id": "1", "source_type": "ad"},
            },
        ),
        (
            {"type": "unsupported"},
            {
                "errors": [
                    {
                        "code": 131051,
                        "title": "Message type unknown",
                        "message": "Message type unknown",
                        "error_data": {"details": "Message type is currently not supported."},
                    }
                ]
            },
        ),
    ],
)
async def test_other_inbound_types(
    sandbox: SandboxHarness, message: dict[str, Any], expected: dict[str, Any]
) -> None:
    number = await sandbox.provision()
    response = await sandbox.inbound(number, message)
    assert response.status_code == 200, response.text
    await sandbox.runtime.idle()
    [delivered] = sandbox.recorder.messages()
    assert delivered["type"] == message["type"]
    for key, value in expected.items():
        assert delivered[key] == value


async def test_system_messages_have_no_contacts_and_open_no_window(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    system = {"type": "system", "system": {"body": "User changed number", "type": "user_changed_number"}}
    assert (await sandbox.inbound(number, system)).status_code == 200
    reply = await sandbox.send(
        number, {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Hi"}}
    )
    await sandbox.runtime.idle()
    system_post, status_post = sandbox.recorder.posts
    assert "contacts" not in system_post.value
    assert status_post.value["statuses"][0]["id"] == reply.json()["messages"][0]["id"]
    assert status_post.value["statuses"][0]["status"] == "failed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "62812345678", "message": {"type": "text", "text": {"body": "x"}}}, "phone_number_id"),
        ({"phone_number_id": "{pnid}", "message": {"type": "text", "text": {"body": "x"}}}, "from"),
        (
            {"phone_number_id": "{pnid}", "from": "12", "message": {"type": "text", "text": {"body": "x"}}},
            "from",
        ),
        ({"phone_number_id": "{pnid}", "from": "62812345678"}, "message"),
        ({"phone_number_id": "{pnid}", "from": "62812345678", "message": {"type": "fax"}}, "message.type"),
        ({"phone_number_id": "{pnid}", "from": "62812345678", "message": {"type": "text"}}, "message.text"),
        (
            {
                "phone_number_id": "{pnid}",
                "from": "62812345678",
                "message": {"type": "text", "text": {"body": 5}},
            },
            "message.text.body",
        ),
        (
            {
                "phone_number_id": "{pnid}",
                "from": "62812345678",
                "message": {
                    "type": "interactive",
                    "interactive": {"type": "button_reply", "button_reply": {"id": "a"}},
                },
            },
            "message.interactive.button_reply.title",
        ),
        (
            {
                "phone_number_id": "{pnid}",
                "from": "62812345678",
                "message": {"type": "location", "location": {"latitude": "north"}},
            },
            "message.location.latitude",
        ),
    ],
)
async def test_bad_simulator_bodies_name_the_field(
    sandbox: SandboxHarness, body: dict[str, Any], field: str
) -> None:
    number = await sandbox.provision()
    if body.get("phone_number_id") == "{pnid}":
        body = {**body, "phone_number_id": number.phone_number_id}
    response = await sandbox.client.post("/v1/inbound", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100
    assert error["error_data"]["details"].startswith(field + ":")


async def test_unknown_number_is_404_in_metas_body(sandbox: SandboxHarness) -> None:
    body = {
        "phone_number_id": "100000000000000",
        "from": "62812345678",
        "message": {"type": "text", "text": {"body": "x"}},
    }
    response = await sandbox.client.post("/v1/inbound", json=body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 100
    broken = await sandbox.client.post(
        "/v1/inbound", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.json()["error"]["code"] == 100


async def test_mutated_simulator_bodies_never_get_a_500(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    originals = [
        {"type": "text", "text": {"body": "x"}, "context": {"id": "wamid.X"}},
        {"type": "image", "image": {"caption": "c", "id": None}},
        {"type": "document", "document": {"filename": "a.pdf"}},
        {"type": "location", "location": {"latitude": 1.5, "longitude": 2.5, "name": "n"}},
        {
            "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": "a", "title": "b"}},
        },
        {"type": "order", "order": {"catalog_id": "1", "product_items": [{"product_retailer_id": "a"}]}},
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "x"}},
    ]
    for original in originals:
        envelope = {"phone_number_id": number.phone_number_id, "from": "62812345678", "message": original}
        for body in mutations(envelope):
            response = await sandbox.client.post("/v1/inbound", json=body)
            assert response.status_code in (200, 400, 404), (body, response.text)
            if response.status_code != 200:
                assert response.json()["error"]["code"] == 100
    await sandbox.runtime.idle()
    assert all(post.signature_valid for post in sandbox.recorder.posts)
