"""Dedicated egress: the sender binds a source address or goes through a proxy; hostile settings are 400s."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kirem.app import create_app
from kirem.config import Settings
from kirem.db.migrate import upgrade_async
from kirem.delivery.sender import AiohttpSender
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.egress import masked, parse_egress
from tests.egress_servers import forward_proxy, recorder


async def test_the_sender_leaves_from_the_bound_address() -> None:
    sender = AiohttpSender(local_address="127.0.0.2")
    try:
        with recorder() as consumer:
            result = await sender.send(consumer.url + "/hook", b"{}", {"Content-Type": "application/json"}, 5)
            assert result.is_success, result
            assert consumer.seen() == ["127.0.0.2"]
    finally:
        await sender.aclose()


@pytest.mark.parametrize("credentials", ["", "agency:s3cret@"])
async def test_the_sender_goes_through_the_proxy(credentials: str) -> None:
    with recorder() as consumer, forward_proxy(source="127.0.0.3") as proxy:
        sender = AiohttpSender(proxy=proxy.url.replace("http://", f"http://{credentials}"))
        try:
            result = await sender.send(consumer.url + "/hook", b"{}", {"Content-Type": "application/json"}, 5)
        finally:
            await sender.aclose()
        assert result.is_success, result
        assert consumer.seen() == ["127.0.0.3"]
        [(method, target, authorization)] = proxy.seen()
        assert (method, target) == ("POST", consumer.url + "/hook")
        expected = "Basic " + base64.b64encode(b"agency:s3cret").decode() if credentials else None
        assert authorization == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"bind_address": "127.0.0.0/8"}, "bind_address"),
        ({"bind_address": "0.0.0.0"}, "bind_address"),
        ({"bind_address": "::"}, "bind_address"),
        ({"bind_address": "224.0.0.1"}, "bind_address"),
        ({"bind_address": "255.255.255.255"}, "bind_address"),
        ({"bind_address": "192.0.2.1"}, "bind_address"),  # TEST-NET: not an address of this machine
        ({"bind_address": "localhost"}, "bind_address"),
        ({"bind_address": "127.0.0.1\x00"}, "bind_address"),
        ({"bind_address": 2130706433}, "bind_address"),
        ({"bind_address": "9" * 100}, "bind_address"),
        ({"proxy_url": "ftp://proxy:21"}, "proxy_url"),
        ({"proxy_url": "http://"}, "proxy_url"),
        ({"proxy_url": "http://proxy:99999"}, "proxy_url"),
        ({"proxy_url": "http://proxy:3128/path?q=1"}, "proxy_url"),
        ({"proxy_url": "http://pro xy:3128"}, "proxy_url"),
        ({"proxy_url": "http://proxy:3128\r\nX: y"}, "proxy_url"),
        ({"proxy_url": "javascript:alert(1)"}, "proxy_url"),
        ({"proxy_url": "http://" + "a" * 3000}, "proxy_url"),
        ({"proxy_url": ["http://proxy:3128"]}, "proxy_url"),
        ({"cidrs": ["10.0.0.0/8"]}, "cidrs"),
    ],
)
def test_hostile_egress_settings_are_refused_by_field(body: dict[str, Any], field: str) -> None:
    _, errors = parse_egress(body)
    assert field in errors, errors


def test_good_settings_are_normalised_and_credentials_masked() -> None:
    egress, errors = parse_egress(
        {"bind_address": "127.0.0.2", "proxy_url": "https://u:p@proxy.internal:3128"}
    )
    assert errors == {} and egress.bind_address == "127.0.0.2"
    assert masked("https://u:p@proxy.internal:3128") == "https://u:****@proxy.internal:3128"
    assert masked("http://token@proxy:3128") == "http://****@proxy:3128"
    assert masked("http://proxy:3128") == "http://proxy:3128"


@pytest.fixture
async def manage(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    await upgrade_async(settings)
    app = create_app(settings)
    boot = await bootstrap(app.state.ctx, "agency", "main", "scale")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as client:
        yield client, boot
    await app.state.ctx.aclose()


async def test_egress_is_set_shown_in_the_project_and_plan_gated(manage) -> None:
    client, boot = manage
    headers = {"Authorization": f"Bearer {boot['account_token']}"}
    path = f"/v1/manage/projects/{boot['project_id']}/egress"
    body = {"bind_address": "127.0.0.2", "proxy_url": "http://agency:s3cret@127.0.0.1:3128"}
    put = await client.put(path, json=body, headers=headers)
    assert put.status_code == 200, put.text
    shown = {
        "bind_address": "127.0.0.2",
        "proxy_url": "http://agency:****@127.0.0.1:3128",
        "active": True,
        "inactive_reason": None,
    }
    assert put.json()["data"] == shown
    assert (await client.get(path, headers=headers)).json()["data"] == shown
    project = await client.get(f"/v1/manage/projects/{boot['project_id']}", headers=headers)
    assert project.json()["data"]["egress"] == shown and "s3cret" not in project.text
    bad = await client.put(
        path, json={"bind_address": "10.0.0.0/8", "proxy_url": "gopher://x"}, headers=headers
    )
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"bind_address", "proxy_url"}

    operator = {"Authorization": "Bearer operator-secret"}
    downgrade = await client.patch(
        f"/v1/operator/accounts/{boot['account_id']}", json={"plan": "growth"}, headers=operator
    )
    assert downgrade.status_code == 200, downgrade.text
    assert downgrade.json()["data"]["changes"]["egress"]["disabled"] == [boot["project_id"]]
    kept = (await client.get(path, headers=headers)).json()["data"]
    assert kept == {**shown, "active": False, "inactive_reason": kept["inactive_reason"]}
    assert "not part of the growth plan" in kept["inactive_reason"]
    project = await client.get(f"/v1/manage/projects/{boot['project_id']}", headers=headers)
    assert project.json()["data"]["egress"] == kept
    refused = await client.put(path, json={"bind_address": "127.0.0.2"}, headers=headers)
    assert refused.status_code == 403 and refused.json()["errors"]["plan"] == "scale"
    off = await client.put(path, json={}, headers=headers)
    assert off.status_code == 200
    nothing = {"bind_address": None, "proxy_url": None, "active": False, "inactive_reason": None}
    assert off.json()["data"] == nothing
