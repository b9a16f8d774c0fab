"""Metered usage: totals equal the traffic a test made, retries, replays and redeliveries included."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kirem.db.base import utcnow
from kirem.meta.signatures import sign
from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_routing import META_APP_SECRET, add_target
from tests.e2e.test_seed_examples import CUSTOMER, assert_sent, customer_writes


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def usage(client: httpx.Client, key: str, **params: str) -> dict[str, Any]:
    response = client.get("/v1/usage", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def meta_message(boot: dict[str, Any], wamid: str) -> bytes:
    """A message webhook as Meta posts it (and re-posts it when our 200 was not seen)."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {
            "display_phone_number": boot["display_phone_number"],
            "phone_number_id": boot["phone_number_id"],
        },
        "contacts": [{"profile": {"name": "Sari"}, "wa_id": "6281399990000"}],
        "messages": [
            {
                "from": "6281399990000",
                "id": wamid,
                "timestamp": str(int(utcnow().timestamp())),
                "type": "text",
                "text": {"body": "Sudah dikirim?"},
            }
        ],
    }
    change = {"field": "messages", "value": value}
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": boot["waba_id"], "changes": [change]}],
    }
    return json.dumps(envelope).encode()


def test_usage_counts_each_billable_thing_once(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    target = add_target(
        client, key, consumer.endpoint("/usage", 500), retry_schedule=[0, 1], events=["messages.received"]
    )

    customer_writes(client, boot, text="Halo, mau tanya")
    assert len(consumer.wait_for("/usage", 2)) == 2  # one failure, then the retry succeeds
    redelivered = meta_message(boot, f"wamid.usage{secrets.token_hex(8)}")
    for _ in range(2):  # Meta posts the same webhook again: still one message, one delivery
        response = client.post(
            "/webhooks/meta",
            content=redelivered,
            headers={
                "X-Hub-Signature-256": sign(META_APP_SECRET, redelivered),
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200
    assert len(consumer.wait_for("/usage", 3)) == 3

    reply = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "Siap"}}
    assert_sent(client.post("/v1/messages", json=reply, headers=auth(key)))
    template = {
        "messaging_product": "whatsapp",
        "to": "6289999000",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    assert_sent(client.post("/v1/messages", json=template, headers=auth(key)), "6289999000")

    deliveries = client.get("/v1/webhooks/deliveries", params={"target_id": target["id"]}, headers=auth(key))
    first = deliveries.json()["data"]["deliveries"][-1]
    assert client.post(f"/v1/webhooks/deliveries/{first['id']}/replay", headers=auth(key)).status_code == 202
    assert wait_for(lambda: usage(client, key)["webhooks"]["attempts"] == 4)
    assert client.post(f"/v1/events/{first['event_id']}/replay", headers=auth(key)).status_code == 202
    assert len(consumer.wait_for("/usage", 5)) == 5

    def settled() -> dict[str, Any] | None:
        data = usage(client, key)
        categories = data["messages"]["by_category"]
        done = (
            categories["marketing"] == 1 and categories["service"] == 1 and data["webhooks"]["attempts"] == 5
        )
        return data if done else None

    data = wait_for(settled)
    assert data, usage(client, key)
    assert data["month"] == utcnow().strftime("%Y-%m") and data["plan"] == "growth"
    assert data["messages"] == {
        "outbound": 2,
        "outbound_by_type": {"template": 1, "text": 1},
        "by_category": {"marketing": 1, "utility": 0, "authentication": 0, "service": 1},
        "inbound": 2,
    }
    assert data["webhooks"] == {"deliveries": 2, "attempts": 5}  # 2 messages; 1 retry and 2 replays
    lines = {line["item"]: line for line in data["charges"]["lines"]}
    assert lines["marketing"] == {"item": "marketing", "quantity": 1, "unit_price": 650, "amount": 650}
    assert lines["delivery"]["amount"] == 2
    assert data["charges"]["amount"] == 650 + 2

    account = client.get("/v1/manage/usage", headers=auth(boot["account_token"]))
    assert account.status_code == 200, account.text
    report = account.json()["data"]
    assert [p["project_id"] for p in report["projects"]] == [boot["project_id"]]
    assert report["projects"][0]["messages"] == data["messages"]
    assert report["bill"] == {
        "currency": "IDR",
        "plan": "growth",
        "plan_fee": 25_000,
        "usage_billed": True,
        "usage_amount": 652,
        "total": 25_652,
    }

    table = server.cli("usage", _account_name(client, boot), process=True)
    assert "main" in table.stdout and "25,652" in table.stdout
    as_json = json.loads(server.cli("usage", _account_name(client, boot), "--json").stdout)
    assert as_json["bill"]["total"] == 25_652


def _account_name(client: httpx.Client, boot: dict[str, Any]) -> str:
    return str(client.get("/v1/manage/account", headers=auth(boot["account_token"])).json()["data"]["name"])


def test_an_earlier_month_is_empty_and_a_bad_month_is_a_400(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="enterprise")
    earlier = usage(client, boot["api_key"], month="2020-01")
    assert earlier["messages"]["outbound"] == 0 and earlier["webhooks"] == {"deliveries": 0, "attempts": 0}
    bill = client.get("/v1/manage/usage", params={"month": "2020-01"}, headers=auth(boot["account_token"]))
    assert bill.json()["data"]["bill"]["total"] == 1_000_000
    for month in ("2026-13", "2026-1", "november", "2026-11-01", "０２０２６-11"):
        for path, token in (("/v1/usage", boot["api_key"]), ("/v1/manage/usage", boot["account_token"])):
            response = client.get(path, params={"month": month}, headers=auth(token))
            assert response.status_code == 400, (path, month, response.text)
            assert response.json()["errors"] == {"month": "must be a month as YYYY-MM, e.g. 2026-11"}
    failed = server.cli("usage", _account_name(client, boot), "--month", "2026-00", check=False)
    assert failed.returncode == 1 and "month" in failed.stderr
