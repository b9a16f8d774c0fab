"""POST /v1/webhooks/targets/{id}/test: a signed sample now, and the consumer's answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Server, auth, free_port
from tests.e2e.consumers import Consumer, consumer_server
from tests.e2e.test_routing import add_target, verify_kirem_signature
from tests.e2e.test_usage import usage


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    with consumer_server() as server:
        yield server


def probe(client: httpx.Client, key: str, target_id: str) -> httpx.Response:
    return client.post(f"/v1/webhooks/targets/{target_id}/test", headers=auth(key))


def test_a_test_event_is_signed_like_a_delivery_and_answers_what_the_consumer_said(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    target = add_target(client, key, consumer.endpoint("/probe"), headers={"X-Team": "ops"})
    response = probe(client, key, target["id"])
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["success"] is True and data["status_code"] == 200 and data["error"] is None
    assert data["event"] == "webhooks.test" and data["url"] == target["url"]
    assert data["response_body"] == '{"ok":true}' and data["response_truncated"] is False
    assert isinstance(data["latency_ms"], int) and data["latency_ms"] >= 0
    [received] = consumer.at("/probe")
    envelope = received.json()
    assert envelope["event"] == "webhooks.test" and envelope["id"] == data["event_id"]
    assert envelope["data"]["test"] is True and envelope["project_id"] == boot["project_id"]
    assert received.headers["x-kirem-event"] == "webhooks.test"
    assert received.headers["x-kirem-delivery"] == data["delivery_id"]
    assert received.headers["x-team"] == "ops"
    verify_kirem_signature(boot["webhook_secret"], received)

    failing = add_target(client, key, consumer.endpoint("/down", 503), payload_format="meta")
    answer = probe(client, key, failing["id"]).json()
    assert answer["status"] == 200 and answer["message"] == "Test event not delivered"
    assert answer["data"]["success"] is False and answer["data"]["status_code"] == 503
    assert answer["data"]["error"] == "HTTP 503"
    [meta] = consumer.at("/down")
    assert meta.json() == {"object": "whatsapp_business_account", "entry": []}
    assert "x-hub-signature-256" in meta.headers

    nothing = usage(client, key)["webhooks"]
    assert nothing == {"deliveries": 0, "attempts": 0}  # tests are not deliveries
    deliveries = client.get("/v1/webhooks/deliveries", headers=auth(key)).json()["data"]
    assert deliveries["total"] == 0


def test_a_consumer_down_or_silent_is_a_clear_answer(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    closed = add_target(client, key, f"http://127.0.0.1:{free_port()}/gone")
    data = probe(client, key, closed["id"]).json()["data"]
    assert data["success"] is False and data["status_code"] is None and data["error"]

    consumer.hold = threading.Event()
    silent = add_target(client, key, consumer.endpoint("/silent"), timeout_seconds=1)
    data = probe(client, key, silent["id"]).json()["data"]
    consumer.hold.set()
    assert data["success"] is False and data["status_code"] is None
    assert "timeout" in data["error"].lower() or "timed out" in data["error"].lower()


def test_a_foreign_or_unknown_target_is_not_found(
    server: Server, client: httpx.Client, consumer: Consumer
) -> None:
    mine, other = server.bootstrap(), server.bootstrap()
    theirs = add_target(client, other["api_key"], consumer.endpoint("/theirs"))
    for target_id, status in ((theirs["id"], 404), ("tgt_nope", 404), ("%00", 400)):
        response = probe(client, mine["api_key"], target_id)
        assert response.status_code == status, response.text
    assert consumer.at("/theirs") == []
