"""Setup links against a stand-in Graph (live Embedded Signup), and their expiry, in-process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import update

from kirem.app import create_app
from kirem.config import Settings
from kirem.db.base import utcnow
from kirem.db.migrate import upgrade_async
from kirem.onboarding.models import SetupLink
from kirem.tenancy.bootstrap import bootstrap

APP_ID = "1234567890123456"
CONFIG_ID = "987654321"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
REDIRECT = "https://agency.example/done"


class StandInGraph:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/v23.0/oauth/access_token":
            if request.url.params.get("code") != "META-CODE":
                error = {
                    "message": "Invalid verification code format.",
                    "type": "OAuthException",
                    "code": 100,
                }
                return httpx.Response(400, json={"error": error})
            return httpx.Response(200, json={"access_token": "EAAG-business", "token_type": "bearer"})
        if path == f"/v23.0/{PHONE_NUMBER_ID}":
            return httpx.Response(
                200,
                json={
                    "id": PHONE_NUMBER_ID,
                    "display_phone_number": "+62 811-000",
                    "verified_name": "Melati",
                },
            )
        return httpx.Response(200, json={"success": True})

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, StandInGraph, dict[str, Any]]]:
    graph = StandInGraph()
    await upgrade_async(settings)
    configured = settings.model_copy(
        update={"meta_app_id": APP_ID, "meta_config_id": CONFIG_ID, "meta_app_secret": "app-secret"}
    )
    app = create_app(configured, meta_transport=httpx.MockTransport(graph.handler))
    boot = await bootstrap(app.state.ctx, "agency", "main", "scale")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        yield client, graph, boot
    await app.state.ctx.aclose()


async def _link(client: httpx.AsyncClient, boot: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {"client_name": "Melati", "redirect_url": REDIRECT, **fields}
    response = await client.post(
        "/v1/setup-links", json=body, headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def _secret(link: dict[str, Any]) -> str:
    return str(link["url"].rsplit("/", 1)[1])


async def _callback(
    client: httpx.AsyncClient, link: dict[str, Any], code: str = "META-CODE"
) -> dict[str, str]:
    params = {"state": _secret(link), "code": code, "waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID}
    response = await client.get("/setup/callback", params=params)
    assert response.status_code == 303, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def test_the_live_page_runs_metas_embedded_signup_and_nothing_else(live) -> None:
    client, _, boot = live
    link = await _link(client, boot, coexistence=True)
    assert link["mode"] == "live"
    page = await client.get(urlsplit(link["url"]).path)
    assert page.status_code == 200
    assert 'src="https://connect.facebook.net/en_US/sdk.js"' in page.text
    config = json.loads(page.text.split('id="signup-config">', 1)[1].split("</script>", 1)[0])
    assert config["appId"] == APP_ID and config["configId"] == CONFIG_ID and config["coexistence"] is True
    assert config["callback"].endswith("/setup/callback") and config["state"] == _secret(link)
    policy = page.headers["content-security-policy"]
    assert "script-src 'nonce-" in policy and "https://connect.facebook.net" in policy
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    assert page.text.count("<script") == 3  # the config (data), the page's own code, Meta's SDK


@pytest.mark.parametrize("coexistence", [False, True], ids=["register", "coexistence"])
async def test_the_callback_makes_metas_calls_in_order(live, coexistence: bool) -> None:
    client, graph, boot = live
    link = await _link(client, boot, coexistence=coexistence, pin="424242")
    result = await _callback(client, link)
    assert result["status"] == "completed", result
    middle = (
        [f"POST /v23.0/{PHONE_NUMBER_ID}/smb_app_data"] * 2
        if coexistence
        else [f"POST /v23.0/{PHONE_NUMBER_ID}/register"]
    )
    assert graph.calls() == [
        "GET /v23.0/oauth/access_token",
        f"POST /v23.0/{WABA_ID}/subscribed_apps",
        *middle,
        f"GET /v23.0/{PHONE_NUMBER_ID}",
    ]
    exchange = graph.requests[0]
    assert "authorization" not in exchange.headers
    assert dict(exchange.url.params) == {
        "client_id": APP_ID,
        "client_secret": "app-secret",
        "code": "META-CODE",
    }
    assert all(r.headers["authorization"] == "Bearer EAAG-business" for r in graph.requests[1:])
    bodies = [json.loads(r.content) for r in graph.requests[2:-1]]
    if coexistence:
        assert [b["sync_type"] for b in bodies] == ["smb_app_state_sync", "history"]
    else:
        assert bodies == [{"messaging_product": "whatsapp", "pin": "424242"}]
    manage = {"Authorization": f"Bearer {boot['account_token']}"}
    channels = await client.get(f"/v1/manage/projects/{result['project_id']}/channels", headers=manage)
    [channel] = channels.json()["data"]
    assert channel["kind"] == "live" and channel["display_phone_number"] == "+62 811-000"


async def test_metas_refusal_fails_the_link_with_its_reason(live) -> None:
    client, _, boot = live
    link = await _link(client, boot)
    result = await _callback(client, link, code="FORGED")
    assert result["status"] == "failed" and "Invalid verification code" in result["reason"]
    shown = await client.get(
        f"/v1/setup-links/{link['id']}", headers={"Authorization": f"Bearer {boot['api_key']}"}
    )
    assert shown.json()["data"]["status"] == "failed"


async def test_an_expired_link_shows_expired_and_its_page_and_callback_are_gone(live) -> None:
    client, graph, boot = live
    link = await _link(client, boot)
    ctx = client._transport.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        await session.execute(
            update(SetupLink)
            .where(SetupLink.id == link["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    headers = {"Authorization": f"Bearer {boot['api_key']}"}
    shown = await client.get(f"/v1/setup-links/{link['id']}", headers=headers)
    assert shown.json()["data"]["status"] == "expired"
    assert (await client.get(urlsplit(link["url"]).path)).status_code == 410
    params = {
        "state": _secret(link),
        "code": "META-CODE",
        "waba_id": WABA_ID,
        "phone_number_id": PHONE_NUMBER_ID,
    }
    late = await client.get("/setup/callback", params=params)
    assert late.status_code == 410 and "expired" in late.text
    assert graph.requests == []


async def test_test_keys_make_sandbox_links_and_a_live_one_is_refused(live) -> None:
    client, _, boot = live
    manage = {"Authorization": f"Bearer {boot['account_token']}"}
    created = await client.post(
        f"/v1/manage/projects/{boot['project_id']}/keys", json={"mode": "test"}, headers=manage
    )
    test_key = {"Authorization": f"Bearer {created.json()['data']['key']}"}
    body = {"client_name": "Melati", "redirect_url": REDIRECT}
    sandbox = await client.post("/v1/setup-links", json=body, headers=test_key)
    assert sandbox.status_code == 201 and sandbox.json()["data"]["mode"] == "sandbox"
    refused = await client.post("/v1/setup-links", json={**body, "sandbox": False}, headers=test_key)
    assert refused.status_code == 403
