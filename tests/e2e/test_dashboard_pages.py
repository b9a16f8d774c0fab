"""Dashboard pages over HTTP: the overview's figures, the allowlist's lock-out guard, users by API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.dashboard import PASSWORD, create_owner, http_login, unique_email
from tests.e2e.test_seed_examples import CUSTOMER, assert_sent, customer_writes


@pytest.fixture
def owner(server: Server) -> dict[str, Any]:
    return create_owner(server, unique_email(), PASSWORD)


@pytest.fixture
def web(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


def stat(html: str, name: str) -> str:
    found = re.search(rf'id="stat-{name}">([^<]*)<', html)
    assert found, f"no {name} figure on the page"
    return found.group(1)


def test_the_overview_counts_todays_messages(
    server: Server, owner: dict[str, Any], client: httpx.Client, web: httpx.Client
) -> None:
    customer_writes(client, owner)
    customer_writes(client, owner, text="Masih ada?")
    key = auth(owner["api_key"])
    sent = client.post(
        "/v1/messages",
        json={"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "Ada kak"}},
        headers=key,
    )
    assert_sent(sent)
    http_login(web, owner["email"], PASSWORD)
    overview = f"/dashboard/p/{owner['project_id']}/overview"

    def counted() -> str | None:
        page = web.get(overview).text
        return page if stat(page, "received") == "2" else None

    page = wait_for(counted)
    assert page, "the two inbound messages never showed"
    assert (stat(page, "sent"), stat(page, "failed")) == ("1", "0")
    assert page.count('class="bar-received"') == 7
    assert "<title>" in page and "Received: 2" in page


def test_an_allowlist_without_your_address_is_refused(
    server: Server, owner: dict[str, Any], client: httpx.Client, web: httpx.Client
) -> None:
    token = http_login(web, owner["email"], PASSWORD)
    save = f"/dashboard/p/{owner['project_id']}/settings/ip-allowlist"
    allowlist = f"/v1/manage/projects/{owner['project_id']}/ip-allowlist"
    account = auth(owner["account_token"])

    refused = web.post(save, data={"cidrs": "203.0.113.0/24", "csrf_token": token})
    assert refused.status_code == 400
    assert "would lock you out: your address 127.0.0.1" in refused.text
    assert "203.0.113.0/24" in refused.text  # what was typed stays in the box
    assert client.get(allowlist, headers=account).json()["data"]["cidrs"] == []

    invalid = web.post(save, data={"cidrs": "127.0.0.1\nnot-an-address", "csrf_token": token})
    assert "is not an IP address or CIDR range" in invalid.text

    saved = web.post(save, data={"cidrs": "127.0.0.0/8\n203.0.113.0/24", "csrf_token": token})
    assert saved.status_code == 303
    assert client.get(allowlist, headers=account).json()["data"]["cidrs"] == ["127.0.0.0/8", "203.0.113.0/24"]
    assert client.get("/v1/usage", headers=auth(owner["api_key"])).status_code == 200

    cleared = web.post(save, data={"cidrs": "", "csrf_token": token})
    assert cleared.status_code == 303
    assert client.get(allowlist, headers=account).json()["data"]["cidrs"] == []


def test_the_settings_page_shows_plan_and_usage(
    server: Server, owner: dict[str, Any], web: httpx.Client
) -> None:
    http_login(web, owner["email"], PASSWORD)
    page = web.get(f"/dashboard/p/{owner['project_id']}/settings")
    assert page.status_code == 200
    assert "Plan: growth" in page.text and "Estimated bill:" in page.text
    wrong_month = web.get(f"/dashboard/p/{owner['project_id']}/settings", params={"month": "2026-13"})
    assert wrong_month.status_code == 200
    assert "must be a month as YYYY-MM" in wrong_month.text


def test_the_account_manages_its_users_and_the_operator_resets_a_password(
    server: Server, owner: dict[str, Any], client: httpx.Client
) -> None:
    account = auth(owner["account_token"])
    email = unique_email("dev")
    body = {"email": email, "password": PASSWORD, "roles": {owner["project_id"]: "developer"}}
    created = client.post("/v1/manage/users", json=body, headers=account)
    assert created.status_code == 201, created.text
    user = created.json()["data"]
    assert user["roles"] == {owner["project_id"]: "developer"} and user["account_owner"] is False

    again = client.post("/v1/manage/users", json=body, headers=account)
    assert again.status_code == 409
    short = client.post(
        "/v1/manage/users", json={**body, "email": unique_email(), "password": "x"}, headers=account
    )
    assert short.status_code == 400 and "password" in short.json()["errors"]
    foreign = client.post(
        "/v1/manage/users",
        json={**body, "email": unique_email(), "roles": {"prj_nope": "agent"}},
        headers=account,
    )
    assert foreign.status_code == 400

    changed = client.patch(
        f"/v1/manage/users/{user['id']}", json={"roles": {owner["project_id"]: "agent"}}, headers=account
    )
    assert changed.json()["data"]["roles"] == {owner["project_id"]: "agent"}

    with httpx.Client(base_url=server.url, timeout=30) as web:
        http_login(web, email, PASSWORD)
        assert web.get(f"/dashboard/p/{owner['project_id']}/keys").status_code == 404
        reset = client.post(f"/v1/operator/users/{user['id']}/password", headers=auth("operator-e2e"))
        assert reset.status_code == 200, reset.text
        new_password = reset.json()["data"]["password"]
        assert web.get("/dashboard/?list=1").status_code == 303  # signed out
    with httpx.Client(base_url=server.url, timeout=30) as web:
        http_login(web, email, new_password)

    listed = client.get(f"/v1/operator/accounts/{owner['account_id']}/users", headers=auth("operator-e2e"))
    assert {u["email"] for u in listed.json()["data"]} == {owner["email"], email}
    other = create_owner(server, unique_email("other"), PASSWORD)
    assert (
        client.get(f"/v1/manage/users/{user['id']}", headers=auth(other["account_token"])).status_code == 404
    )
    assert client.delete(f"/v1/manage/users/{user['id']}", headers=account).status_code == 200
    assert client.get(f"/v1/manage/users/{user['id']}", headers=account).status_code == 404


def test_the_cli_lists_and_changes_roles(server: Server, owner: dict[str, Any]) -> None:
    email = unique_email("cli")
    made = server.cli(
        "users", "create", email, "--account", owner["account"], "--project", "main", "--json", process=True
    )
    assert '"password"' in made.stdout
    server.cli("users", "set-role", email, "main", "owner")
    listed = server.cli("users", "list", owner["account"], "--json")
    assert f'"{owner["project_id"]}": "owner"' in listed.stdout
    server.cli("users", "set-role", email, "main", "none")
    assert (
        f'"{owner["project_id"]}"'
        not in server.cli("users", "list", owner["account"], "--json").stdout.split(email)[1].split("}")[0]
    )
    refused = server.cli("users", "set-role", email, "main", "admin", check=False)
    assert refused.returncode == 1 and "role" in refused.stderr
