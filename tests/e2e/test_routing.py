"""Inbound webhooks routed by rules to real consumers: signed, retried, disabled, isolated, replayed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from kirem.meta.signatures import sign
from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_seed_examples import customer_writes
from tests.fixtures import meta_examples

META_APP_SECRET = "meta-app-secret-e2e"


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def add_target(client: httpx.Client, key: str, url: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks/targets", json={"url": url, **fields}, headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def add_rule(
    client: httpx.Client, key: str, name: str, conditions: dict[str, Any], target_ids: list[str]
) -> dict[str, Any]:
    body = {"name": name, "conditions": conditions, "target_ids": target_ids}
    response = client.post("/v1/webhooks/rules", json=body, headers=auth(key))
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def inbound(
    client: httpx.Client, boot: dict[str, Any], message: dict[str, Any], sender: str = "62812345678"
) -> str:
    body = {
        "phone_number_id": boot["phone_number_id"],
        "from": sender,
        "profile_name": "Budi",
        "message": message,
    }
    response = client.post("/sandbox/v1/inbound", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["wamid"])


def verify_kirem_signature(secret: str, received: Any) -> None:
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    assert expected in [part.strip() for part in received.headers["x-kirem-signature"].split(",")]
    Webhook(secret).verify(received.body, received.headers)


def test_rules_select_targets_in_both_formats_with_verifiable_signatures(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(client, key, consumer.endpoint("/all"), events=["messages.received"])
    promos = add_target(client, key, consumer.endpoint("/promo"), payload_format="meta")
    images = add_target(client, key, consumer.endpoint("/images"))
    add_rule(
        client,
        key,
        "Promo keywords",
        {"keywords": ["PROMO"], "event_types": ["messages.received"]},
        [promos["id"]],
    )
    add_rule(client, key, "Images", {"message_types": ["image"]}, [images["id"]])

    wamid = inbound(client, boot, {"type": "text", "text": {"body": "Ada promo hari ini?"}})
    [kirem] = consumer.wait_for("/all", 1)
    [meta] = consumer.wait_for("/promo", 1)
    envelope = kirem.json()
    assert envelope["event"] == "messages.received" and envelope["project_id"] == boot["project_id"]
    assert envelope["id"].startswith("evt_") and envelope["created_at"].endswith("Z")
    data = envelope["data"]
    assert (data["from"], data["message_id"], data["type"]) == ("62812345678", wamid, "text")
    assert data["text"] == {"body": "Ada promo hari ini?"} and data["contact"]["profile"]["name"] == "Budi"
    assert kirem.headers["x-kirem-event"] == "messages.received"
    assert kirem.headers["user-agent"].startswith("Kirem-Webhooks/")
    assert kirem.headers["webhook-id"] == envelope["id"]
    verify_kirem_signature(boot["webhook_secret"], kirem)

    body = meta.json()
    assert body["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "Ada promo hari ini?"
    assert meta.headers["x-hub-signature-256"] == sign(boot["webhook_secret"], meta.body)
    verify_kirem_signature(boot["webhook_secret"], meta)

    inbound(client, boot, {"type": "image", "image": {"caption": "foto produk"}})
    assert len(consumer.wait_for("/images", 1)) == 1
    assert len(consumer.wait_for("/all", 2)) == 2
    assert len(consumer.at("/promo")) == 1 and len(consumer.at("/images")) == 1


def test_a_failing_consumer_gets_the_event_on_a_retry(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap()
    target = add_target(
        client,
        boot["api_key"],
        consumer.endpoint("/flaky", 500),
        retry_schedule=[0, 1],
        events=["messages.received"],
    )
    inbound(client, boot, {"type": "text", "text": {"body": "halo"}})
    first, second = consumer.wait_for("/flaky", 2)
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"]
    deliveries = wait_for(
        lambda: client.get(
            "/v1/webhooks/deliveries",
            params={"target_id": target["id"], "status": "succeeded"},
            headers=auth(boot["api_key"]),
        ).json()["data"]["deliveries"]
    )
    assert deliveries and deliveries[0]["attempts"] == 2
    detail = client.get(
        f"/v1/webhooks/deliveries/{deliveries[0]['id']}", headers=auth(boot["api_key"])
    ).json()["data"]
    assert detail["attempts"] == 2
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200]
    logs = client.get(
        "/v1/analytics/webhooks", params={"is_success": "false"}, headers=auth(boot["api_key"])
    ).json()["data"]
    assert logs["total"] == 1
    failed = logs["logs"][0]
    assert failed["url"].endswith("/flaky") and failed["status_code"] == 500 and failed["is_success"] is False
    assert (
        failed["attempt"] == 1
        and isinstance(failed["duration_ms"], int)
        and failed["created_at"].endswith("Z")
    )


def test_410_disables_the_target_and_tells_the_others(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    gone = add_target(client, key, consumer.endpoint("/gone", 410), events=["messages.received"])
    watcher = add_target(client, key, consumer.endpoint("/watch"), events=["targets.disabled"])
    inbound(client, boot, {"type": "text", "text": {"body": "halo"}})
    assert len(consumer.wait_for("/gone", 1)) == 1
    [notice] = consumer.wait_for("/watch", 1)
    assert notice.json()["event"] == "targets.disabled" and notice.json()["data"]["target_id"] == gone["id"]
    state = client.get(f"/v1/webhooks/targets/{gone['id']}", headers=auth(key)).json()["data"]
    assert state["enabled"] is False and "410" in state["disabled_reason"]

    inbound(client, boot, {"type": "text", "text": {"body": "lagi"}})
    skipped = wait_for(
        lambda: client.get("/v1/webhooks/deliveries", params={"status": "skipped"}, headers=auth(key)).json()[
            "data"
        ]["deliveries"]
    )
    assert skipped and skipped[0]["target_id"] == gone["id"]
    assert len(consumer.at("/gone")) == 1 and watcher["id"]

    consumer.script["/gone"] = []
    enabled = client.patch(f"/v1/webhooks/targets/{gone['id']}", json={"enabled": True}, headers=auth(key))
    assert enabled.status_code == 200 and enabled.json()["data"]["enabled"] is True
    replay = client.post("/v1/webhooks/replay", json={"status": "skipped"}, headers=auth(key))
    assert replay.status_code == 202 and replay.json()["data"]["queued"] == 1
    assert len(consumer.wait_for("/gone", 2)) == 2


def test_a_target_that_never_answers_does_not_delay_a_healthy_one(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    with consumer_server() as stuck, consumer_server() as healthy:
        stuck.hold = threading.Event()
        add_target(client, key, stuck.endpoint("/never"), timeout_seconds=30, events=["messages.received"])
        add_target(client, key, healthy.endpoint("/ok"), events=["messages.received"])
        for i in range(12):
            inbound(client, boot, {"type": "text", "text": {"body": f"pesan {i}"}})
        assert len(healthy.wait_for("/ok", 12)) == 12
        assert (
            not stuck.hold.is_set() and len(stuck.at("/never")) == 0
        )  # every stuck request is still hanging


def test_replay_single_delivery_and_event(server: Server, client: httpx.Client, consumer: Consumer) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    first = add_target(client, key, consumer.endpoint("/one"), events=["messages.received"])
    inbound(client, boot, {"type": "text", "text": {"body": "satu"}})
    [original] = consumer.wait_for("/one", 1)
    event_id = original.json()["id"]

    def recorded() -> dict[str, Any] | None:
        """The delivery once its attempt is recorded: the consumer has the request before that, and
        a first attempt still in flight is not replayed (it is being sent)."""
        params = {"event_id": event_id}
        found = client.get("/v1/webhooks/deliveries", params=params, headers=auth(key)).json()["data"]
        return next((d for d in found["deliveries"] if d["attempts"] >= 1), None)

    delivery = wait_for(recorded)
    replayed = client.post(f"/v1/webhooks/deliveries/{delivery['id']}/replay", headers=auth(key))
    assert replayed.status_code == 202 and replayed.json()["data"] == {"queued": 1}
    again = consumer.wait_for("/one", 2)
    assert again[1].body == original.body and again[1].headers["webhook-id"] == event_id

    add_target(client, key, consumer.endpoint("/two"), events=["messages.received"])
    by_event = client.post(f"/v1/events/{event_id}/replay", headers=auth(key))
    assert by_event.status_code == 202 and by_event.json()["data"]["queued"] == 2
    assert len(consumer.wait_for("/one", 3)) == 3 and len(consumer.wait_for("/two", 1)) == 1
    event = client.get(f"/v1/events/{event_id}", headers=auth(key)).json()["data"]
    assert {d["target_id"] for d in event["deliveries"]} >= {first["id"]}
    assert {d["url"] for d in event["deliveries"]} == {consumer.endpoint("/one"), consumer.endpoint("/two")}

    missing = client.post("/v1/events/evt_nope/replay", headers=auth(key))
    assert missing.status_code == 404
    other = server.bootstrap()
    assert client.post(f"/v1/events/{event_id}/replay", headers=auth(other["api_key"])).status_code == 404
    assert (
        client.post(
            f"/v1/webhooks/deliveries/{delivery['id']}/replay", headers=auth(other["api_key"])
        ).status_code
        == 404
    )


def test_bulk_replay_of_failures_by_filter(server: Server, client: httpx.Client, consumer: Consumer) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(
        client, key, consumer.endpoint("/down", 500, 500, 500), max_attempts=1, events=["messages.received"]
    )
    for i in range(3):
        inbound(client, boot, {"type": "text", "text": {"body": f"m{i}"}})
    assert wait_for(
        lambda: (
            client.get("/v1/webhooks/deliveries", params={"status": "failed"}, headers=auth(key)).json()[
                "data"
            ]["total"]
            == 3
        )
    )
    queued = client.post("/v1/webhooks/replay?is_success=false&event=messages.received", headers=auth(key))
    assert queued.status_code == 202 and queued.json()["data"]["queued"] == 3
    assert len(consumer.wait_for("/down", 6)) == 6
    assert wait_for(
        lambda: (
            client.get("/v1/webhooks/deliveries", params={"status": "succeeded"}, headers=auth(key)).json()[
                "data"
            ]["total"]
            == 3
        )
    )
    bad = client.post("/v1/webhooks/replay", json={"status": "lost", "colour": "red"}, headers=auth(key))
    assert bad.status_code == 400 and {"status", "colour"} <= set(bad.json()["errors"])


def meta_webhook_examples() -> list[tuple[str, dict[str, Any]]]:
    return list(meta_examples()["webhook"].items())


def test_each_of_metas_16_webhook_examples_is_accepted_normalised_and_routed(
    server: Server, consumer: Consumer
) -> None:
    examples = meta_webhook_examples()
    assert len(examples) == 16
    boot = server.bootstrap(plan="scale")
    client = httpx.Client(base_url=server.url, timeout=30)
    channel = client.post(
        f"/v1/manage/projects/{boot['project_id']}/channels",
        json={
            "kind": "live",
            "phone_number_id": "106540352242922",
            "waba_id": "102290129340398",
            "access_token": "EAAG",
            "verify": False,
        },
        headers=auth(boot["account_token"]),
    )
    assert channel.status_code == 201, channel.text
    add_target(client, boot["api_key"], consumer.endpoint("/meta-fidelity"))
    for index, (name, example) in enumerate(examples):
        for change in example["entry"][0]["changes"]:
            for message in change["value"].get("messages", []):
                message["id"] = f"{message['id']}.{index}"  # Meta's examples reuse one wamid
        body = json.dumps(example).encode()
        response = client.post(
            "/webhooks/meta",
            content=body,
            headers={"X-Hub-Signature-256": sign(META_APP_SECRET, body), "Content-Type": "application/json"},
        )
        assert response.status_code == 200, (name, response.text)
    received = consumer.wait_for("/meta-fidelity", 16)
    assert len(received) == 16
    types = [r.json()["event"] for r in received]
    assert types.count("messages.received") == 13 and types.count("account.update") == 3
    again = json.dumps(examples[0][1]).encode()
    client.post(
        "/webhooks/meta", content=again, headers={"X-Hub-Signature-256": sign(META_APP_SECRET, again)}
    )
    events = client.get("/v1/events", params={"limit": 100}, headers=auth(boot["api_key"])).json()["data"]
    assert events["total"] == 16  # Meta's redelivery of the first example is recognised


@pytest.mark.parametrize(
    ("body", "signature", "status"),
    [
        (b'{"object": "whatsapp_business_account"}', None, 401),
        (b'{"object": "whatsapp_business_account"}', "sha256=" + "0" * 64, 401),
        (b'{"object": "whatsapp_business_account"}', "sha1=abc", 401),
        (b"{not json", "sign", 400),
        (b"[1, 2, 3]", "sign", 400),
        (b'{"pad": "' + b"x" * (11 * 1024 * 1024) + b'"}', "sign", 413),
    ],
)
def test_bad_meta_webhooks_get_clear_errors(
    server: Server, body: bytes, signature: str | None, status: int
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Hub-Signature-256"] = sign(META_APP_SECRET, body)
    elif signature:
        headers["X-Hub-Signature-256"] = signature
    response = httpx.post(f"{server.url}/webhooks/meta", content=body, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.json()["status"] == status


def test_meta_verification_handshake(server: Server) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-e2e", "hub.challenge": "1158201444"}
    response = httpx.get(f"{server.url}/webhooks/meta", params=params)
    assert response.status_code == 200 and response.text == "1158201444"
    wrong = httpx.get(f"{server.url}/webhooks/meta", params={**params, "hub.verify_token": "nope"})
    assert wrong.status_code == 403


def test_statuses_of_sends_reach_targets_and_update_logs(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    key = boot["api_key"]
    add_target(client, key, consumer.endpoint("/statuses"), events=["messages.status"])
    customer_writes(client, boot)
    hello = {
        "messaging_product": "whatsapp",
        "to": "99900000001",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    sent = client.post("/v1/messages", json=hello, headers=auth(key))
    wamid = sent.json()["data"]["messages"][0]["id"]
    [failed] = consumer.wait_for("/statuses", 1)
    data = failed.json()["data"]
    assert data["message_id"] == wamid and data["status"] == "failed" and data["errors"][0]["code"] == 131026


def test_metrics_count_requests_graph_calls_webhooks_and_deliveries(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap(plan="growth")
    add_target(client, boot["api_key"], consumer.endpoint("/metered"), events=["messages.received"])
    inbound(client, boot, {"type": "text", "text": {"body": "hitung"}})
    consumer.wait_for("/metered", 1)
    hello = {
        "messaging_product": "whatsapp",
        "to": "628555",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    assert client.post("/v1/messages", json=hello, headers=auth(boot["api_key"])).status_code == 201
    text = client.get("/metrics").text
    assert 'kirem_http_requests_total{method="POST",route="/v1/messages",status="201"}' in text
    assert 'kirem_meta_calls_total{operation="POST messages",outcome="ok"}' in text
    assert 'kirem_inbound_webhooks_total{source="sandbox"}' in text
    assert 'kirem_delivery_attempts_total{outcome="success"}' in text
    assert "kirem_delivery_queue_depth" in text and "kirem_inbound_backlog" in text
    assert boot["project_id"] not in text
