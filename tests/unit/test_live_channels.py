"""A live channel speaks to Meta's Graph API: exact calls, Meta's errors passed through, outages as 502."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kirem.app import create_app
from kirem.config import Settings
from kirem.db.migrate import upgrade_async
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.channels import create_channel
from kirem.tenancy.service import find_account, find_project

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"


class FakeMeta:
    """Answers like graph.facebook.com and records what Kirem asked."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.reply: httpx.Response | Exception = httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "62812345678", "wa_id": "62812345678"}],
                "messages": [{"id": "wamid.LIVE1"}],
            },
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, FakeMeta, dict[str, Any]]]:
    meta = FakeMeta()
    await upgrade_async(settings)
    app = create_app(settings, meta_transport=httpx.MockTransport(meta.handler))
    ctx = app.state.ctx
    boot = await bootstrap(ctx, "live-co", "main", "growth")
    async with ctx.db.transaction() as session:
        account = await find_account(session, "live-co")
        project = await find_project(session, account, "main")
        await create_channel(
            ctx,
            session,
            account,
            project,
            {
                "kind": "live",
                "phone_number_id": PHONE_NUMBER_ID,
                "waba_id": WABA_ID,
                "access_token": "EAAG-real",
            },
        )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        yield client, meta, boot
    await ctx.aclose()


async def test_send_goes_to_graph_with_the_channel_token(live) -> None:
    client, meta, boot = live
    body = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    response = await client.post(
        f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["messages"] == [{"id": "wamid.LIVE1"}]
    [request] = meta.requests
    assert str(request.url) == f"https://graph.facebook.com/v23.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == "Bearer EAAG-real"
    assert json.loads(request.content) == body


async def test_meta_errors_keep_metas_code_and_status(live) -> None:
    client, meta, boot = live
    meta.reply = httpx.Response(
        400,
        json={
            "error": {
                "message": "(#132000) Template status is not APPROVED.",
                "type": "OAuthException",
                "code": 132000,
                "error_subcode": 2490001,
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
        },
    )
    body = {
        "messaging_product": "whatsapp",
        "to": "62812345678",
        "type": "template",
        "template": {"name": "x", "language": {"code": "id"}},
    }
    response = await client.post(
        f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert response.status_code == 400
    answer = response.json()
    assert answer["message"] == "(#132000) Template status is not APPROVED."
    assert answer["errors"]["code"] == 132000 and answer["errors"]["error_subcode"] == 2490001
    meta.reply = httpx.Response(
        429, json={"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}}
    )
    limited = await client.post(
        f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert limited.status_code == 429 and limited.json()["errors"]["code"] == 130429


async def test_meta_outage_is_a_502_and_the_send_is_logged_failed(live) -> None:
    client, meta, boot = live
    meta.reply = httpx.ConnectTimeout("timed out")
    body = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    response = await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers=headers)
    assert response.status_code == 502 and response.json()["status"] == 502
    meta.reply = httpx.Response(502, text="<html>bad gateway</html>")
    assert (
        await client.post(f"/v1/{PHONE_NUMBER_ID}/messages", json=body, headers=headers)
    ).status_code == 502
    logs = (await client.get("/v1/analytics/messages?status=failed", headers=headers)).json()["data"]
    assert logs["total"] == 2


async def test_templates_and_profile_use_the_waba_and_number(live) -> None:
    client, meta, boot = live
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    meta.reply = httpx.Response(
        200,
        json={
            "data": [
                {
                    "name": "hello_world",
                    "status": "APPROVED",
                    "category": "MARKETING",
                    "language": "en_US",
                    "components": [],
                    "id": "1",
                }
            ],
            "paging": {"cursors": {"before": "a", "after": "b"}},
        },
    )
    listed = await client.get(f"/v1/templates?channel_id={PHONE_NUMBER_ID}", headers=headers)
    assert listed.status_code == 200 and listed.json()["data"][0]["name"] == "hello_world"
    assert meta.requests[-1].url.path == f"/v23.0/{WABA_ID}/message_templates"
    meta.reply = httpx.Response(
        200, json={"data": [{"about": "Hi", "messaging_product": "whatsapp", "websites": ["https://a.id"]}]}
    )
    profile = await client.get(f"/v1/profile?channel_id={PHONE_NUMBER_ID}", headers=headers)
    assert profile.json()["data"]["about"] == "Hi" and profile.json()["data"]["websites"] == ["https://a.id"]
    assert meta.requests[-1].url.path == f"/v23.0/{PHONE_NUMBER_ID}/whatsapp_business_profile"


async def test_rate_limit_per_key_answers_429_with_retry_after(
    tmp_path, database_url, encryption_key
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url, encryption_key, rate_limit_per_second=3)
    await upgrade_async(settings)
    app = create_app(settings)
    boot = await bootstrap(app.state.ctx, "busy", "main", "growth")
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        codes = [(await client.get("/v1/analytics/messages", headers=headers)) for _ in range(6)]
    await app.state.ctx.aclose()
    limited = [r for r in codes if r.status_code == 429]
    assert limited and int(limited[0].headers["retry-after"]) >= 1
    assert limited[0].json()["errors"]["retry_after"] >= 1
