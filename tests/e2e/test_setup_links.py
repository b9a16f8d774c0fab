"""Customer Setup Links end to end on the real server: the client's page, the sandbox's Embedded
Signup popup, the callback's Graph calls, the new project and channel, and ``channels.connected``."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.conftest import Server, auth
from tests.e2e.consumers import Consumer, consumer_server

REDIRECT = "https://agency.example/onboarded?client=42"


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def create_link(client: httpx.Client, key: str, **fields: Any) -> dict[str, Any]:
    body = {"client_name": "Toko Bunga Melati", "redirect_url": REDIRECT, **fields}
    response = client.post("/v1/setup-links", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def sign_up_in_the_sandbox(client: httpx.Client, link_url: str) -> str:
    """What the client's browser does: open the link, go through the popup; returns the callback URL."""
    page = client.get(link_url)
    assert page.status_code == 200 and page.headers["referrer-policy"] == "no-referrer", page.text
    href = html.unescape(re.search(r'id="start" href="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
    popup = client.get(href)
    assert popup.status_code == 200 and "<form" in popup.text, popup.text
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', popup.text))
    fields = {name: html.unescape(value) for name, value in fields.items()}
    finished = client.post(href.split("?")[0], data={**fields, "business_name": "Melati Florist"})
    assert finished.status_code == 303, finished.text
    return finished.headers["location"]


def outcome(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "&"), location
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


@pytest.mark.parametrize("coexistence", [False, True], ids=["new-number", "coexistence"])
def test_a_client_connects_their_number_through_a_setup_link(
    server: Server, client: httpx.Client, consumer: Consumer, coexistence: bool
) -> None:
    boot = server.bootstrap(plan="scale")
    key = boot["api_key"]
    target = client.post(
        "/v1/webhooks/targets",
        json={"url": consumer.endpoint("/connected"), "events": ["channels.connected"]},
        headers=auth(key),
    )
    assert target.status_code == 201, target.text
    link = create_link(client, key, coexistence=coexistence)
    assert link["status"] == "pending" and link["mode"] == "sandbox" and link["url"].startswith(server.url)
    assert (link["registration_pin"] is None) == coexistence

    callback = sign_up_in_the_sandbox(client, link["url"])
    assert callback.startswith(f"{server.url}/setup/callback?")
    result = outcome(client.get(callback))
    assert result["status"] == "completed" and result["setup_link_id"] == link["id"], result

    shown = client.get(f"/v1/setup-links/{link['id']}", headers=auth(key)).json()["data"]
    assert shown["status"] == "completed" and shown["project_id"] == result["project_id"]
    assert shown["channel_id"] == result["channel_id"] and "url" not in shown
    assert [item["id"] for item in client.get("/v1/setup-links", headers=auth(key)).json()["data"]] == [
        link["id"]
    ]

    manage = auth(boot["account_token"])
    project = client.get(f"/v1/manage/projects/{result['project_id']}", headers=manage).json()["data"]
    assert project["name"] == "Toko Bunga Melati"
    [channel] = client.get(f"/v1/manage/projects/{result['project_id']}/channels", headers=manage).json()[
        "data"
    ]
    assert channel["id"] == result["channel_id"] and channel["kind"] == "sandbox"

    client_key = client.post(f"/v1/manage/projects/{result['project_id']}/keys", json={}, headers=manage)
    sent = client.post(
        "/v1/messages",
        json={
            "messaging_product": "whatsapp",
            "to": "6281234567890",
            "type": "text",
            "text": {"body": "Halo"},
        },
        headers=auth(client_key.json()["data"]["key"]),
    )
    assert sent.status_code == 201, sent.text  # the token the code was exchanged for works

    [event] = consumer.wait_for("/connected", 1)
    notice = event.json()
    assert notice["event"] == "channels.connected"
    assert notice["data"]["setup_link_id"] == link["id"] and notice["data"]["channel_id"] == channel["id"]
    assert notice["data"]["phone_number_id"] == channel["phone_number_id"]
    assert notice["data"]["coexistence"] is coexistence

    replayed = client.get(callback)
    assert replayed.status_code == 409 and "already been used" in replayed.text
    assert client.get(link["url"]).status_code == 409


def test_forged_links_and_callbacks_fail_cleanly(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="scale")
    key = boot["api_key"]
    assert client.get("/setup/not-a-link").status_code == 404
    forged = client.get(
        "/setup/callback", params={"state": "forged", "code": "x", "waba_id": "1", "phone_number_id": "2"}
    )
    assert forged.status_code == 404 and "text/html" in forged.headers["content-type"]
    assert client.get("/setup/callback").status_code == 404

    link = create_link(client, key)
    secret = link["url"].rsplit("/", 1)[1]
    incomplete = client.get("/setup/callback", params={"state": secret, "code": "x", "waba_id": "no"})
    assert incomplete.status_code == 400
    assert (
        client.get(f"/v1/setup-links/{link['id']}", headers=auth(key)).json()["data"]["status"] == "pending"
    )

    callback = urlsplit(sign_up_in_the_sandbox(client, link["url"]))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    result = outcome(client.get("/setup/callback", params={**params, "code": params["code"] + "0"}))
    assert result["status"] == "failed" and "Meta refused" in result["reason"], result
    shown = client.get(f"/v1/setup-links/{link['id']}", headers=auth(key)).json()["data"]
    assert shown["status"] == "failed" and "authorization code" in shown["failure_reason"]
    assert client.get("/setup/callback", params=params).status_code == 409  # the real code comes too late

    gone = create_link(client, key)
    deleted = client.delete(f"/v1/setup-links/{gone['id']}", headers=auth(key))
    assert deleted.status_code == 200 and deleted.json()["data"]["id"] == gone["id"]
    assert client.get(gone["url"]).status_code == 404
    assert client.get(f"/v1/setup-links/{gone['id']}", headers=auth(key)).status_code == 404


def test_setup_links_need_the_scale_plan_and_valid_input(server: Server, client: httpx.Client) -> None:
    growth = server.bootstrap(plan="growth")
    refused = client.post(
        "/v1/setup-links",
        json={"client_name": "A", "redirect_url": REDIRECT},
        headers=auth(growth["api_key"]),
    )
    assert refused.status_code == 403 and refused.json()["errors"]["plan"] == "scale", refused.text

    key = server.bootstrap(plan="scale")["api_key"]
    bad = client.post(
        "/v1/setup-links",
        json={
            "client_name": "",
            "redirect_url": "javascript:alert(1)",
            "expires_in_seconds": -1,
            "coexistence": "yes",
            "pin": "12ab56",
        },
        headers=auth(key),
    )
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {
        "client_name",
        "redirect_url",
        "expires_in_seconds",
        "coexistence",
        "pin",
    }
    for url in (
        "https://user:pw@agency.example/",
        "http://",
        "https://agency.example:99999/",
        "ftp://a.example/",
    ):
        answer = client.post(
            "/v1/setup-links", json={"client_name": "A", "redirect_url": url}, headers=auth(key)
        )
        assert answer.status_code == 400 and "redirect_url" in answer.json()["errors"], url
    assert client.get("/v1/setup-links/csl_unknown", headers=auth(key)).status_code == 404
