"""Plan changes through the operator API and the CLI, on the running server: at once, nothing deleted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kirem.routing.cache import SQLITE_TTL_SECONDS
from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_routing import add_rule, add_target
from tests.e2e.test_seed_examples import customer_writes
from tests.e2e.test_usage import _account_name

OPERATOR = auth("operator-e2e")
TEXT = {"messaging_product": "whatsapp", "to": "62812345678", "type": "text", "text": {"body": "Halo"}}


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def set_plan(client: httpx.Client, boot: dict[str, Any], plan: str) -> dict[str, Any]:
    response = client.patch(
        f"/v1/operator/accounts/{boot['account_id']}", json={"plan": plan}, headers=OPERATOR
    )
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_downgrade_disables_over_limit_things_and_upgrade_restores_them(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key, account = auth(boot["api_key"]), auth(boot["account_token"])
    extra = client.post(
        f"/v1/manage/projects/{boot['project_id']}/channels", json={"kind": "sandbox"}, headers=account
    ).json()["data"]
    second = client.post("/v1/manage/projects", json={"name": "client-b"}, headers=account).json()["data"]
    second_key = client.post(f"/v1/manage/projects/{second['id']}/keys", json={}, headers=account).json()[
        "data"
    ]
    first = add_target(client, boot["api_key"], consumer.endpoint("/first"), events=["messages.received"])
    later = [
        add_target(client, boot["api_key"], consumer.endpoint(f"/later{i}"), events=["messages.received"])
        for i in range(2)
    ]
    rule = add_rule(client, boot["api_key"], "all texts", {"message_types": ["text"]}, [first["id"]])
    assert client.get("/v1/analytics/messages", headers=key).status_code == 200

    changed = set_plan(client, boot, "developer")
    assert changed["plan"] == "developer"
    assert changed["changes"]["targets"]["disabled"] == [t["id"] for t in later]
    assert changed["changes"]["projects"]["disabled"] == [second["id"]]

    for target in later:
        shown = client.get(f"/v1/webhooks/targets/{target['id']}", headers=key).json()["data"]
        assert shown["enabled"] is False
        assert shown["disabled_reason"].startswith("Over the developer plan's limit of 1 webhook target(s)")
    shown_rule = client.get(f"/v1/webhooks/rules/{rule['id']}", headers=key).json()["data"]
    assert shown_rule["enabled"] is False and "routing rule(s)" in shown_rule["disabled_reason"]
    channel = client.get(f"/v1/manage/projects/{boot['project_id']}/channels/{extra['id']}", headers=account)
    assert channel.json()["data"]["status"] == "disabled"
    assert "limit of 1 channel(s)" in channel.json()["data"]["disabled_reason"]
    project = client.get(f"/v1/manage/projects/{second['id']}", headers=account).json()["data"]
    assert project["disabled_reason"].startswith("Over the developer plan's limit of 1 project(s)")

    refused = client.post(f"/v1/{extra['phone_number_id']}/messages", json=TEXT, headers=key)
    assert refused.status_code == 409 and "limit of 1 channel(s)" in refused.json()["message"]
    locked_out = client.get("/v1/usage", headers=auth(second_key["key"]))
    assert locked_out.status_code == 403 and "This project is disabled" in locked_out.json()["message"]
    assert client.get("/v1/analytics/messages", headers=key).status_code == 403
    assert client.post("/v1/webhooks/targets", json={"url": consumer.url}, headers=key).status_code == 403
    again = client.patch(f"/v1/webhooks/targets/{later[0]['id']}", json={"enabled": True}, headers=key)
    assert again.status_code == 403 and again.json()["errors"] == {"plan": "growth"}

    customer_writes(client, boot, text="halo developer")
    assert len(consumer.wait_for("/first", 1)) == 1

    def pending() -> int:
        answer = client.get("/v1/webhooks/deliveries", params={"status": "pending"}, headers=key)
        return int(answer.json()["data"]["total"])

    # The consumer has it before the worker records the attempt (results are committed in groups).
    assert wait_for(lambda: pending() == 0)
    assert consumer.at("/later0") == [] and consumer.at("/later1") == []

    server.cli("accounts", "set-plan", _account_name(client, boot), "growth")
    # The server learns of a change made by another process within its routing cache's lifetime on
    # SQLite (a NOTIFY on PostgreSQL): an event routed before that still sees the targets disabled.
    time.sleep(SQLITE_TTL_SECONDS + 0.5)
    for target in later:
        shown = client.get(f"/v1/webhooks/targets/{target['id']}", headers=key).json()["data"]
        assert shown["enabled"] is True and shown["disabled_reason"] is None
    assert client.get(f"/v1/webhooks/rules/{rule['id']}", headers=key).json()["data"]["enabled"] is True
    assert client.get("/v1/usage", headers=auth(second_key["key"])).status_code == 200
    assert client.get("/v1/analytics/messages", headers=key).status_code == 200
    sent = client.post(f"/v1/{extra['phone_number_id']}/messages", json=TEXT, headers=key)
    assert sent.status_code != 409, sent.text
    customer_writes(client, boot, text="halo growth")
    assert len(consumer.wait_for("/first", 2)) == 2
    assert wait_for(lambda: consumer.at("/later0") and consumer.at("/later1"))
    targets = client.get("/v1/webhooks/targets", headers=key).json()["data"]
    assert len(targets) == 3  # nothing was deleted on the way down

    rules = [
        add_rule(client, boot["api_key"], f"r{i}", {"message_types": ["image"]}, [first["id"]])
        for i in range(4)
    ]
    refused_rule = client.post(
        "/v1/webhooks/rules",
        json={"name": "sixth", "conditions": {"message_types": ["image"]}, "target_ids": [first["id"]]},
        headers=key,
    )
    assert len(rules) == 4 and refused_rule.status_code == 403  # growth's 5 rules, enforced after the upgrade


def test_a_plan_change_takes_the_daily_quota_with_it(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="developer")
    key = auth(boot["api_key"])
    customer_writes(client, boot)
    for _ in range(20):
        assert client.post("/v1/messages", json=TEXT, headers=key).status_code == 201
    assert client.post("/v1/messages", json=TEXT, headers=key).status_code == 429
    set_plan(client, boot, "growth")
    assert client.post("/v1/messages", json=TEXT, headers=key).status_code == 201
    set_plan(client, boot, "developer")
    assert client.post("/v1/messages", json=TEXT, headers=key).status_code == 429


def test_limit_overrides_apply_at_once_and_bad_ones_are_a_400(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    made = [add_target(client, boot["api_key"], consumer.endpoint(f"/o{i}")) for i in range(3)]
    path = f"/v1/operator/accounts/{boot['account_id']}"
    tight = client.patch(path, json={"limit_overrides": {"webhook_targets": 1}}, headers=OPERATOR)
    assert tight.status_code == 200, tight.text
    assert tight.json()["data"]["changes"]["targets"]["disabled"] == [t["id"] for t in made[1:]]
    wider = client.patch(path, json={"limit_overrides": {"webhook_targets": 2}}, headers=OPERATOR)
    assert wider.json()["data"]["changes"]["targets"] == {"disabled": [], "enabled": [made[1]["id"]]}
    for overrides, field in (
        ({"retention_days": None}, "retention_days"),
        ({"projects": -1}, "projects"),
        ({"webhook_targets": "5"}, "webhook_targets"),
        ({"analytics_api": 1}, "analytics_api"),
    ):
        response = client.patch(path, json={"limit_overrides": overrides}, headers=OPERATOR)
        assert response.status_code == 400, response.text
        assert list(response.json()["errors"]) == [f"limit_overrides.{field}"]
    account = client.get(path, headers=OPERATOR).json()["data"]
    assert account["limit_overrides"] == {"webhook_targets": 2}
