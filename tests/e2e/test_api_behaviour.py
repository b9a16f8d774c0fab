"""Fidelity to Meta's examples, errors in the wrapper, idempotency, quotas and isolation — over HTTP."""

from __future__ import annotations

import concurrent.futures
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server, auth, wait_for
from tests.e2e.test_seed_examples import CUSTOMER, assert_sent, customer_writes, logs, seed_text
from tests.fixtures import meta_examples


def meta_message_examples() -> list[tuple[str, dict[str, Any]]]:
    return list(meta_examples()["send_message"].items())


def test_each_of_metas_50_message_examples_is_forwarded(server: Server, client: httpx.Client) -> None:
    examples = meta_message_examples()
    assert len(examples) == 50
    boot = server.bootstrap(plan="scale")
    customer_writes(client, boot)
    outcomes: dict[str, int] = {}
    for name, body in examples:
        response = client.post("/v1/messages", json=body, headers=auth(boot["api_key"]))
        assert response.status_code < 500, (name, response.text)
        answer = response.json()
        if response.status_code in (200, 201):
            assert answer["data"].get("messages") or answer["data"].get("success"), name
        else:
            assert isinstance(answer["errors"].get("code"), int), f"{name} refused by Kirem itself: {answer}"
        outcomes[name] = response.status_code
    assert outcomes["Send Text Message with Preview URL"] == 400  # Meta's sample recipient: no number
    real_recipient = {name: {**body, "to": CUSTOMER} for name, body in examples if body.get("to")}
    must_send = {
        "Send Text Message",
        "Send Text Message with Preview URL",
        "Send Reply to Text Message",
        "Send Reply with Reaction Message",
        "Send Location Message",
        "Send Contact Message",
        "Send List Message",
        "Send Reply Button",
        "Send Single Product Message",
        "Send Test Message",
    }
    for name in sorted(must_send):
        response = client.post("/v1/messages", json=real_recipient[name], headers=auth(boot["api_key"]))
        assert response.status_code == 201, (name, response.text)


def test_every_error_is_in_the_wrapper_with_a_request_id(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = auth(boot["api_key"])
    cases = [
        (client.get("/v1/nowhere", headers=key), 404),
        (client.put("/v1/messages", headers=key), 405),
        (
            client.post(
                "/v1/messages", content=b"{not json", headers={**key, "Content-Type": "application/json"}
            ),
            400,
        ),
        (
            client.post(
                "/v1/messages",
                content=b"to=1",
                headers={**key, "Content-Type": "application/x-www-form-urlencoded"},
            ),
            415,
        ),
        (client.post("/v1/messages", json=seed_text()), 401),
        (client.post("/v1/messages", json=seed_text(), headers={"Authorization": "Basic abc"}), 401),
        (client.post("/v1/messages", json=seed_text(), headers=auth("kirem_live_unknown")), 401),
        (client.post("/v1/messages", json=[1, 2], headers=key), 400),
        (client.post("/v1/messages", json={"to": CUSTOMER, "type": "carrier_pigeon"}, headers=key), 400),
        (
            client.post(
                "/v1/messages", content=b"x" * 2_000_000, headers={**key, "Content-Type": "application/json"}
            ),
            413,
        ),
        (client.get("/v1/media/1/download", headers=key), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["status"] == status and isinstance(body["message"], str) and "errors" in body
        assert response.headers["x-request-id"]
        assert "Traceback" not in response.text
    echoed = client.get("/healthz", headers={"X-Request-Id": "my-trace-1"})
    assert echoed.headers["x-request-id"] == "my-trace-1"


def test_revoked_key_is_refused(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    manage = auth(boot["account_token"])
    created = client.post(
        f"/v1/manage/projects/{boot['project_id']}/keys", json={"name": "ci"}, headers=manage
    )
    assert created.status_code == 201
    key = created.json()["data"]
    assert client.get("/v1/templates", headers=auth(key["key"])).status_code == 200
    listed = client.get(f"/v1/manage/projects/{boot['project_id']}/keys", headers=manage).json()["data"]
    assert all("key" not in k for k in listed)
    assert any(k["id"] == key["id"] and k["last_used_at"] for k in listed)
    revoked = client.delete(f"/v1/manage/projects/{boot['project_id']}/keys/{key['id']}", headers=manage)
    assert revoked.status_code == 200 and revoked.json()["data"]["revoked_at"]
    refused = client.get("/v1/templates", headers=auth(key["key"]))
    assert refused.status_code == 401 and refused.json()["message"] == "Invalid or revoked API key"


def test_idempotency_key_replays_conflicts_and_rejects_other_bodies(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap()
    customer_writes(client, boot)
    headers = {**auth(boot["api_key"]), "Idempotency-Key": str(uuid.uuid4())}
    body = seed_text(body="Halo Budi, tagihan Anda sebesar Rp 150.000 telah terbit.")
    first = client.post("/v1/messages", json=body, headers=headers)
    wamid = assert_sent(first)
    replay = client.post("/v1/messages", json=body, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    other = client.post("/v1/messages", json=seed_text(body="something else"), headers=headers)
    assert other.status_code == 422 and other.json()["status"] == 422
    outbound = logs(client, boot["api_key"], direction="outbound")
    assert outbound["total"] == 1 and outbound["logs"][0]["message_id"] == wamid

    racing = {**auth(boot["api_key"]), "Idempotency-Key": str(uuid.uuid4())}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(
                lambda _: httpx.post(f"{server.url}/v1/messages", json=body, headers=racing, timeout=30),
                range(8),
            )
        )
    codes = sorted(r.status_code for r in results)
    assert set(codes) <= {201, 409} and codes.count(201) >= 1
    sent_ids = {r.json()["data"]["messages"][0]["id"] for r in results if r.status_code == 201}
    assert len(sent_ids) == 1
    assert logs(client, boot["api_key"], direction="outbound")["total"] == 2


def test_developer_plan_quota_and_feature_gates(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="developer")
    key = auth(boot["api_key"])
    hello = {
        "messaging_product": "whatsapp",
        "to": "628123",
        "type": "template",
        "template": {"name": "hello_world", "language": {"code": "en_US"}},
    }
    for _ in range(20):
        assert client.post("/v1/messages", json=hello, headers=key).status_code == 201
    over = client.post("/v1/messages", json=hello, headers=key)
    assert over.status_code == 429
    assert "growth" in over.json()["message"] and over.json()["errors"]["plan"] == "growth"
    gated = client.get("/v1/analytics/messages", headers=key)
    assert gated.status_code == 403 and gated.json()["errors"]["plan"] == "growth"
    second = client.post(
        f"/v1/manage/projects/{boot['project_id']}/channels",
        json={"kind": "sandbox"},
        headers=auth(boot["account_token"]),
    )
    assert second.status_code == 403 and "growth" in second.json()["message"]


def test_projects_are_isolated(server: Server, client: httpx.Client) -> None:
    mine = server.bootstrap()
    theirs = server.bootstrap()
    customer_writes(client, theirs)
    upload = client.post(
        "/v1/media",
        files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"0" * 32, "image/png")},
        headers=auth(theirs["api_key"]),
    )
    assert upload.status_code == 200
    media_id = upload.json()["data"]["id"]
    key = auth(mine["api_key"])
    assert client.get(f"/v1/media/{media_id}/download", headers=key).status_code == 404
    assert (
        client.post(f"/v1/{theirs['phone_number_id']}/messages", json=seed_text(), headers=key).status_code
        == 404
    )
    assert client.get(f"/v1/profile?channel_id={theirs['channel_id']}", headers=key).status_code == 404
    manage = auth(mine["account_token"])
    assert client.get(f"/v1/manage/projects/{theirs['project_id']}", headers=manage).status_code == 404
    assert (
        client.get(f"/v1/manage/projects/{theirs['project_id']}/channels", headers=manage).status_code == 404
    )
    assert (
        client.get(
            f"/v1/manage/projects/{mine['project_id']}/channels/{theirs['channel_id']}", headers=manage
        ).status_code
        == 404
    )
    assert logs(client, mine["api_key"])["total"] == 0


def test_management_and_operator_apis(server: Server, client: httpx.Client) -> None:
    operator = {"Authorization": "Bearer operator-e2e"}
    name = f"agency-{uuid.uuid4().hex[:6]}"
    created = client.post("/v1/operator/accounts", json={"name": name, "plan": "scale"}, headers=operator)
    assert created.status_code == 201, created.text
    account = created.json()["data"]
    token = auth(account["account_token"])
    assert client.post("/v1/operator/accounts", json={"name": name}, headers=operator).status_code == 409
    assert client.get("/v1/operator/accounts", headers=auth("wrong")).status_code == 401
    project = client.post("/v1/manage/projects", json={"name": "clinic"}, headers=token).json()["data"]
    channel = client.post(
        f"/v1/manage/projects/{project['id']}/channels",
        json={"kind": "sandbox", "name": "Front desk"},
        headers=token,
    )
    assert channel.status_code == 201 and channel.json()["data"]["kind"] == "sandbox"
    live = client.post(
        f"/v1/manage/projects/{project['id']}/channels",
        json={
            "kind": "live",
            "phone_number_id": "106540352242999",
            "waba_id": "102290129340398",
            "access_token": "EAAG-live",
            "display_phone_number": "+62 811",
            "verify": False,
        },
        headers=token,
    )
    assert live.status_code == 201 and "access_token" not in live.json()["data"]
    bad_live = client.post(
        f"/v1/manage/projects/{project['id']}/channels", json={"kind": "live"}, headers=token
    )
    assert bad_live.status_code == 400 and set(bad_live.json()["errors"]) >= {
        "phone_number_id",
        "waba_id",
        "access_token",
    }
    key = client.post(
        f"/v1/manage/projects/{project['id']}/keys", json={"mode": "test"}, headers=token
    ).json()["data"]["key"]
    assert key.startswith("kirem_test_")
    refused = client.post("/v1/106540352242999/messages", json=seed_text(), headers=auth(key))
    assert refused.status_code == 403
    before = client.get(f"/v1/manage/projects/{project['id']}/webhook-secret", headers=token).json()["data"]
    rotated = client.post(f"/v1/manage/projects/{project['id']}/webhook-secret/rotate", headers=token)
    assert rotated.status_code == 200 and rotated.json()["data"]["webhook_secret"] != before["webhook_secret"]
    after = client.get(f"/v1/manage/projects/{project['id']}/webhook-secret", headers=token).json()["data"]
    assert after["webhook_secret"] == rotated.json()["data"]["webhook_secret"]
    downgraded = client.patch(
        f"/v1/operator/accounts/{account['id']}", json={"plan": "developer"}, headers=operator
    )
    assert downgraded.json()["data"]["plan"] == "developer"
    me = client.get("/v1/manage/account", headers=token).json()["data"]
    assert me["plan"] == "developer" and me["limits"]["outbound_per_day"] == 20


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json"])
def test_health_and_docs(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 200


def test_meta_webhook_handshake_and_signatures(server: Server, client: httpx.Client) -> None:
    refused = client.post("/webhooks/meta", content=json.dumps({"object": "whatsapp_business_account"}))
    assert refused.status_code == 401 and refused.json()["status"] == 401
    handshake = client.get(
        "/webhooks/meta", params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "42"}
    )
    assert handshake.status_code == 403


def test_status_webhooks_arrive_for_every_send(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    customer_writes(client, boot)
    wamids = [
        assert_sent(client.post("/v1/messages", json=seed_text(body=str(i)), headers=auth(boot["api_key"])))
        for i in range(5)
    ]

    def all_read() -> bool:
        entries = logs(client, boot["api_key"], direction="outbound")["logs"]
        return {e["message_id"] for e in entries if e["status"] == "read"} == set(wamids)

    assert wait_for(all_read)


def test_ip_allowlist_is_enforced_for_the_projects_keys(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="growth")
    manage = auth(boot["account_token"])
    path = f"/v1/manage/projects/{boot['project_id']}/ip-allowlist"
    assert client.put(path, json={"cidrs": ["10.0.0.0/8"]}, headers=manage).status_code == 200
    refused = client.get("/v1/templates", headers=auth(boot["api_key"]))
    assert refused.status_code == 403 and "allowlist" in refused.json()["message"]
    spoofed = client.get("/v1/templates", headers={**auth(boot["api_key"]), "X-Forwarded-For": "10.1.2.3"})
    assert spoofed.status_code == 403  # no trusted proxy configured: the header is not believed
    assert client.put(path, json={"cidrs": ["127.0.0.1"]}, headers=manage).json()["data"] == {
        "cidrs": ["127.0.0.1/32"]
    }
    assert client.get("/v1/templates", headers=auth(boot["api_key"])).status_code == 200
    assert client.put(path, json={"cidrs": ["nope"]}, headers=manage).status_code == 400
    assert client.put(path, json={"cidrs": []}, headers=manage).status_code == 200
    developer = server.bootstrap(plan="developer")
    gated = client.put(
        f"/v1/manage/projects/{developer['project_id']}/ip-allowlist",
        json={"cidrs": ["127.0.0.1"]},
        headers=auth(developer["account_token"]),
    )
    assert gated.status_code == 403 and gated.json()["errors"]["plan"] == "growth"
