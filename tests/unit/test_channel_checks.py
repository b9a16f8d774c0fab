"""Connecting a live channel checks its token, number and WABA with Graph, and offers the app subscription."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from kirem.api.responses import ApiError
from kirem.app import create_app
from kirem.cli import app as cli
from kirem.config import Settings
from kirem.db.base import utcnow
from kirem.db.migrate import upgrade_async
from kirem.meta.client import MetaApiError
from kirem.sandbox.onboarding import SANDBOX_APP_ID, sign_up
from kirem.sandbox.provisioning import provision_number
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.live_checks import check_live_channel

PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
APP_ID = "1234567890123456"
INVALID_TOKEN = {
    "error": {
        "message": "Invalid OAuth access token - Cannot parse access token",
        "type": "OAuthException",
        "code": 190,
        "fbtrace_id": "AbCdEf",
    }
}


class StandInGraph:
    """graph.facebook.com for one number and WABA; ``fail`` makes one path answer an error."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.apps: list[dict[str, Any]] = []
        self.fail: dict[str, httpx.Response | Exception] = {}

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        failure = self.fail.get(path)
        if isinstance(failure, Exception):
            raise failure
        if failure is not None:
            return failure
        if path == f"/v23.0/{PHONE_NUMBER_ID}":
            return httpx.Response(
                200,
                json={
                    "id": PHONE_NUMBER_ID,
                    "display_phone_number": "+62 811-1234-567",
                    "verified_name": "Toko",
                },
            )
        if path == f"/v23.0/{WABA_ID}":
            return httpx.Response(200, json={"id": WABA_ID, "name": "Toko WABA"})
        if path == f"/v23.0/{WABA_ID}/subscribed_apps" and request.method == "GET":
            return httpx.Response(200, json={"data": [{"whatsapp_business_api_data": a} for a in self.apps]})
        if path == f"/v23.0/{WABA_ID}/subscribed_apps" and request.method == "POST":
            self.apps.append({"id": APP_ID, "name": "Kirem"})
            return httpx.Response(200, json={"success": True})
        return httpx.Response(
            400, json={"error": {"message": "Unknown path", "type": "OAuthException", "code": 2500}}
        )

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


@pytest.fixture
async def graph(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, StandInGraph, dict[str, Any]]]:
    stand_in = StandInGraph()
    await upgrade_async(settings)
    app = create_app(
        settings.model_copy(update={"meta_app_id": APP_ID}),
        meta_transport=httpx.MockTransport(stand_in.handler),
    )
    ctx = app.state.ctx
    boot = await bootstrap(ctx, "agency", "main", "growth")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        yield client, stand_in, boot
    await ctx.aclose()


def _connect(client: httpx.AsyncClient, boot: dict[str, Any], **extra: Any) -> Any:
    body = {
        "kind": "live",
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "access_token": "EAAG",
        **extra,
    }
    return client.post(
        f"/v1/manage/projects/{boot['project_id']}/channels",
        json=body,
        headers={"Authorization": f"Bearer {boot['account_token']}"},
    )


async def _live_channels(client: httpx.AsyncClient, boot: dict[str, Any]) -> list[dict[str, Any]]:
    listing = await client.get(
        f"/v1/manage/projects/{boot['project_id']}/channels",
        headers={"Authorization": f"Bearer {boot['account_token']}"},
    )
    return [c for c in listing.json()["data"] if c["kind"] == "live"]


async def test_a_live_channel_is_checked_with_graph_and_the_missing_subscription_offered(graph) -> None:
    client, stand_in, boot = graph
    response = await _connect(client, boot)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert stand_in.calls() == [
        f"GET /v23.0/{PHONE_NUMBER_ID}",
        f"GET /v23.0/{WABA_ID}",
        f"GET /v23.0/{WABA_ID}/subscribed_apps",
    ]
    assert all(r.headers["authorization"] == "Bearer EAAG" for r in stand_in.requests)
    verification = data["verification"]
    assert verification["verified"] is True and verification["verified_name"] == "Toko"
    assert verification["waba_name"] == "Toko WABA"
    assert verification["app_subscribed"] is False and "subscribe_app" in verification["hint"]
    assert data["display_phone_number"] == "+62 811-1234-567"


async def test_subscribe_app_subscribes_only_when_the_app_is_missing(graph) -> None:
    client, stand_in, boot = graph
    response = await _connect(client, boot, subscribe_app=True)
    assert response.status_code == 201, response.text
    verification = response.json()["data"]["verification"]
    assert verification["app_subscribed"] is True and verification["subscribed_now"] is True
    assert f"POST /v23.0/{WABA_ID}/subscribed_apps" in stand_in.calls()
    assert "hint" not in verification


async def test_another_apps_subscription_is_not_kirems(graph) -> None:
    client, stand_in, boot = graph
    stand_in.apps.append({"id": "999", "name": "Someone else"})
    response = await _connect(client, boot)
    assert response.json()["data"]["verification"]["app_subscribed"] is False


@pytest.mark.parametrize(
    ("failing", "fields"),
    [(f"/v23.0/{PHONE_NUMBER_ID}", {"phone_number_id", "access_token"}), (f"/v23.0/{WABA_ID}", {"waba_id"})],
)
async def test_metas_refusal_is_shown_and_nothing_is_saved(graph, failing: str, fields: set[str]) -> None:
    client, stand_in, boot = graph
    stand_in.fail[failing] = httpx.Response(401, json=INVALID_TOKEN)
    response = await _connect(client, boot)
    assert response.status_code == 400, response.text
    answer = response.json()
    assert "Invalid OAuth access token" in answer["message"]
    assert fields <= set(answer["errors"]) and answer["errors"]["meta"]["code"] == 190
    assert await _live_channels(client, boot) == []


async def test_meta_unreachable_is_a_424_and_nothing_is_saved(graph) -> None:
    client, stand_in, boot = graph
    stand_in.fail[f"/v23.0/{PHONE_NUMBER_ID}"] = httpx.ConnectError("refused")
    response = await _connect(client, boot)
    assert response.status_code == 424 and '"verify": false' in response.json()["message"]
    assert await _live_channels(client, boot) == []


async def test_verify_false_saves_unchecked_and_flags_must_be_booleans(graph) -> None:
    client, stand_in, boot = graph
    bad = await _connect(client, boot, verify="no", subscribe_app=1)
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"verify", "subscribe_app"}
    unchecked = await _connect(client, boot, verify=False)
    assert unchecked.status_code == 201 and unchecked.json()["data"]["verification"] is None
    assert stand_in.requests == []


async def test_the_sandbox_answers_the_checks_as_graph_does(graph) -> None:
    client, _, _ = graph
    ctx = client._transport.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.transaction() as session:
        console = await provision_number(session, verified_name="Console number")
        signed_up, code = await sign_up(session, ctx.sandbox_app_secret, "Signed up", utcnow())
    sandbox = ctx.sandbox_graph
    check = await check_live_channel(
        sandbox,
        phone_number_id=console.phone_number_id,
        waba_id=console.waba_id,
        token=console.access_token,
        app_id=SANDBOX_APP_ID,
        subscribe=False,
    )
    assert check.app_subscribed and check.waba_name == check.verified_name == "Console number"
    token = await sandbox.exchange_code(SANDBOX_APP_ID, ctx.sandbox_app_secret, code)
    with pytest.raises(MetaApiError):
        await sandbox.exchange_code(SANDBOX_APP_ID, ctx.sandbox_app_secret, code)
    ids = {"phone_number_id": signed_up.phone_number_id, "waba_id": signed_up.waba_id, "token": token}
    first = await check_live_channel(sandbox, **ids, app_id=SANDBOX_APP_ID, subscribe=False)
    assert first.app_subscribed is False
    subscribed = await check_live_channel(sandbox, **ids, app_id=SANDBOX_APP_ID, subscribe=True)
    assert subscribed.app_subscribed and subscribed.subscribed_now
    again = await check_live_channel(sandbox, **ids, app_id=SANDBOX_APP_ID, subscribe=True)
    assert again.app_subscribed and not again.subscribed_now
    with pytest.raises(ApiError) as refused:
        await check_live_channel(
            sandbox, **{**ids, "waba_id": console.waba_id}, app_id=SANDBOX_APP_ID, subscribe=False
        )
    assert refused.value.status == 400 and "waba_id" in refused.value.errors


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_cli_checks_a_live_channel_too(
    tmp_path: Path, database_url: str, encryption_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIREM_DATABASE_URL", database_url)
    monkeypatch.setenv("KIREM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIREM_ENCRYPTION_KEY", encryption_key)
    monkeypatch.setenv("KIREM_META_GRAPH_URL", f"http://127.0.0.1:{_closed_port()}")  # nothing listens
    runner = CliRunner()
    boot = runner.invoke(cli, ["bootstrap", "--account", "a", "--project", "p", "--plan", "growth", "--json"])
    assert boot.exit_code == 0, boot.stderr
    live = ["channels", "add", "a", "p", "--kind", "live", "--phone-number-id", PHONE_NUMBER_ID]
    live += ["--waba-id", WABA_ID, "--access-token", "EAAG"]
    refused = runner.invoke(cli, live)
    assert refused.exit_code == 1 and "Could not reach Meta" in refused.stderr and "(424)" in refused.stderr
    unchecked = runner.invoke(cli, [*live, "--no-verify", "--json"])
    assert unchecked.exit_code == 0, unchecked.stderr
    assert json.loads(unchecked.stdout)["verification"] is None
