"""A customer's number typed in other scripts' digits is the same customer everywhere."""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.test_seed_examples import customer_writes

CUSTOMER = "62812345678"
ARABIC = "٦٢٨١٢٣٤٥٦٧٨"
FULL_WIDTH = "６２８１２３４５６７８"


def conversations(client: httpx.Client, key: str, **params: str) -> list[dict[str, Any]]:
    response = client.get("/v1/conversations", params=params, headers=auth(key))
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["conversations"])


def text_to(to: str, body: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": body}}


def test_non_ascii_digits_reach_the_same_customer_in_sends_filters_rules_and_conversations(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    customer_writes(client, boot, sender=CUSTOMER)
    [conversation] = wait_for(lambda: conversations(client, key))
    for to in (ARABIC, FULL_WIDTH, f"+{ARABIC[:2]} {ARABIC[2:]}"):
        sent = client.post("/v1/messages", json=text_to(to, "halo"), headers=auth(key))
        assert sent.status_code == 201, sent.text
        assert sent.json()["data"]["contacts"][0]["wa_id"] == CUSTOMER

    customer_writes(client, boot, sender=ARABIC)  # the simulator reads the customer's digits too
    wait_for(lambda: len(conversations(client, key)) > 1, timeout=2)
    assert [c["id"] for c in conversations(client, key)] == [conversation["id"]]
    assert [c["id"] for c in conversations(client, key, customer=FULL_WIDTH)] == [conversation["id"]]
    assert conversations(client, key, customer="62899999999") == []
    timeline = client.get(f"/v1/conversations/{conversation['id']}", headers=auth(key)).json()["data"]
    assert [m["direction"] for m in timeline["timeline"]["messages"]].count("outbound") == 3

    logs = client.get(
        "/v1/analytics/messages", params={"recipient": ARABIC, "direction": "outbound"}, headers=auth(key)
    )
    assert logs.status_code == 200 and logs.json()["data"]["total"] == 3, logs.text
    assert {log["recipient"] for log in logs.json()["data"]["logs"]} == {CUSTOMER}

    target = client.post("/v1/webhooks/targets", json={"url": "http://127.0.0.1:9/hook"}, headers=auth(key))
    rule = {
        "name": "indonesia",
        "conditions": {"senders": [f"{ARABIC[:3]}*"]},
        "target_ids": [target.json()["data"]["id"]],
    }
    created = client.post("/v1/webhooks/rules", json=rule, headers=auth(key))
    assert created.status_code == 201, created.text
    assert created.json()["data"]["conditions"]["senders"] == ["628*"]
    tested = client.post("/v1/webhooks/rules/test", json={"event": {"from": FULL_WIDTH}}, headers=auth(key))
    assert tested.status_code == 200, tested.text
    assert tested.json()["data"]["targets"][0]["selected"] is True


def test_meta_ids_must_be_ascii_digits(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="scale")
    channel = {"kind": "live", "phone_number_id": "١٠٦٥٤٠", "waba_id": "１０２２", "access_token": "EAAG"}
    response = client.post(
        f"/v1/manage/projects/{boot['project_id']}/channels",
        json=channel,
        headers=auth(boot["account_token"]),
    )
    assert response.status_code == 400, response.text
    assert set(response.json()["errors"]) == {"phone_number_id", "waba_id"}
