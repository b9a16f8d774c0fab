"""Enterprise plan on the real server: a project's dedicated MCP endpoint and its SLA events."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import httpx2
import orjson
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import ENGINES
from tests.e2e.conftest import Server, auth, serving, wait_for
from tests.e2e.consumers import consumer_server
from tests.e2e.test_mcp_e2e import QUESTION
from tests.e2e.test_seed_examples import customer_writes

OPERATOR = {"Authorization": "Bearer operator-e2e"}
TOOLS_LIST = {"jsonrpc": "2.0", "method": "tools/list", "id": 1}


def post_rpc(client: httpx.Client, path: str, key: str) -> httpx.Response:
    return client.post(
        path, content=orjson.dumps(TOOLS_LIST), headers={**auth(key), "Content-Type": "application/json"}
    )


def dedicated(client: httpx.Client, boot: dict[str, Any], rate: float = 50) -> tuple[str, str]:
    """The project's endpoint (a fresh slug) and a key of scope ``mcp`` for it."""
    token = auth(boot["account_token"])
    slug = f"acme-{uuid.uuid4().hex[:8]}"
    base = f"/v1/manage/projects/{boot['project_id']}"
    saved = client.put(
        f"{base}/mcp-endpoint", json={"slug": slug, "rate_limit_per_second": rate}, headers=token
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["data"]["url"].endswith(f"/v1/mcp/{slug}")
    key = client.post(f"{base}/keys", json={"name": "agent", "scope": "mcp"}, headers=token)
    assert key.status_code == 201, key.text
    assert key.json()["data"]["scope"] == "mcp"
    return f"/v1/mcp/{slug}", key.json()["data"]["key"]


async def test_the_official_client_on_a_dedicated_endpoint(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="enterprise")
    path, key = dedicated(client, boot)
    customer = "6284" + str(uuid.uuid4().int)[:8]
    customer_writes(client, boot, sender=customer, text=QUESTION)
    http = httpx2.AsyncClient(headers=auth(key), timeout=30)
    async with (
        http,
        streamable_http_client(f"{server.url}{path}", http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        assert (await session.initialize()).server_info.name == "kirem"
        assert len((await session.list_tools()).tools) == 7

        async def chats() -> list[dict[str, Any]]:
            listed = await session.call_tool("list_conversations", {"status": "open"})
            return [c for c in orjson.loads(listed.content[0].text) if c["customer_phone"] == customer]  # type: ignore[union-attr]

        for _ in range(200):
            if found := await chats():
                break
        [chat] = found
        sent = await session.call_tool("send_message", {"session_id": chat["id"], "text": "Siap!"})
        assert sent.is_error is False, sent


def test_keys_are_bound_to_their_endpoint_and_plans_are_enforced(
    server: Server, client: httpx.Client
) -> None:
    boot = server.bootstrap(plan="enterprise")
    path, key = dedicated(client, boot)
    assert post_rpc(client, path, key).json()["result"]["tools"]

    refused = post_rpc(client, path, boot["api_key"])  # the project's REST key
    assert refused.status_code == 403 and "REST API" in refused.json()["message"]
    shared = post_rpc(client, "/v1/mcp", key)
    assert shared.status_code == 403 and "dedicated MCP endpoint" in shared.json()["message"]
    rest = client.get("/v1/conversations", headers=auth(key))
    assert rest.status_code == 403 and rest.json()["status"] == 403
    other_path, other_key = dedicated(client, server.bootstrap(plan="enterprise"))
    crossed = post_rpc(client, path, other_key)
    assert crossed.status_code == 403 and "not bound" in crossed.json()["message"]
    assert post_rpc(client, other_path, other_key).status_code == 200
    assert post_rpc(client, "/v1/mcp/no-such-endpoint", key).status_code == 404
    assert client.post(path, json=TOOLS_LIST).status_code == 401

    token = auth(boot["account_token"])
    base = f"/v1/manage/projects/{boot['project_id']}/mcp-endpoint"
    taken = client.put(base, json={"slug": other_path.rsplit("/", 1)[1]}, headers=token)
    assert taken.status_code == 409
    for body in ({"slug": "A"}, {"slug": "-bad-"}, {"slug": "ok-slug", "rate_limit_per_second": 0}, {"x": 1}):
        answer = client.put(base, json=body, headers=token)
        assert answer.status_code == 400 and answer.json()["errors"], body

    downgrade = client.patch(
        f"/v1/operator/accounts/{boot['account_id']}", json={"plan": "scale"}, headers=OPERATOR
    )
    assert downgrade.status_code == 200
    closed = post_rpc(client, path, key)
    assert closed.status_code == 403 and closed.json()["errors"]["plan"] == "enterprise"
    assert client.get(base, headers=token).status_code == 200  # kept, not deleted
    client.patch(f"/v1/operator/accounts/{boot['account_id']}", json={"plan": "enterprise"}, headers=OPERATOR)
    assert post_rpc(client, path, key).status_code == 200

    growth = server.bootstrap(plan="growth")
    growth_token = auth(growth["account_token"])
    growth_base = f"/v1/manage/projects/{growth['project_id']}"
    assert (
        client.put(
            f"{growth_base}/mcp-endpoint", json={"slug": f"g-{uuid.uuid4().hex[:6]}"}, headers=growth_token
        ).status_code
        == 403
    )
    assert client.post(f"{growth_base}/keys", json={"scope": "mcp"}, headers=growth_token).status_code == 403
    sla = {"window_seconds": 3600, "min_success_rate": 0.99}
    assert client.put(f"{growth_base}/sla", json=sla, headers=growth_token).status_code == 403


def test_a_dedicated_endpoint_has_its_own_rate_limit(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="enterprise")
    path, key = dedicated(client, boot, rate=1)
    answers = [post_rpc(client, path, key) for _ in range(5)]
    limited = [a for a in answers if a.status_code == 429]
    assert (
        limited and limited[0].headers["retry-after"] and "on this endpoint" in limited[0].json()["message"]
    )
    assert (
        client.get("/v1/conversations", headers=auth(boot["api_key"])).status_code == 200
    )  # REST unaffected


def test_readyz_reports_the_worker_and_queue_lag(client: httpx.Client) -> None:
    ready = client.get("/readyz").json()["data"]
    assert ready["worker"] == "ok" and ready["workers"]["live"] >= 1
    assert 0 <= ready["workers"]["last_heartbeat_age_seconds"] < 60
    assert set(ready["queues"]) == {"oldest_pending_delivery_seconds", "oldest_pending_inbound_seconds"}


@pytest.mark.parametrize("engine", ENGINES)
async def test_sla_breach_and_recovery_reach_the_targets(engine: str, tmp_path: Path) -> None:
    async with serving(engine, tmp_path, KIREM_SLA_INTERVAL_SECONDS="0.2") as srv:
        breach_and_recover(srv)


def breach_and_recover(srv: Server) -> None:
    with consumer_server() as consumer, httpx.Client(base_url=srv.url, timeout=30) as client:
        boot = srv.bootstrap(plan="enterprise")
        key, token = boot["api_key"], auth(boot["account_token"])
        hooks = {
            "url": consumer.endpoint("/hooks", 500),
            "events": ["messages.received"],
            "max_attempts": 1,
        }
        watch = {"url": consumer.endpoint("/watch"), "events": ["sla.breached", "sla.recovered"]}
        for target in (hooks, watch):
            assert client.post("/v1/webhooks/targets", json=target, headers=auth(key)).status_code == 201
        policy = {"window_seconds": 600, "min_success_rate": 0.9, "min_deliveries": 1}
        saved = client.put(f"/v1/manage/projects/{boot['project_id']}/sla", json=policy, headers=token)
        assert saved.status_code == 200 and saved.json()["data"]["state"] == "ok", saved.text

        customer_writes(client, boot, sender="6285" + str(uuid.uuid4().int)[:8])
        [breached] = consumer.wait_for("/watch", 1)
        assert breached.json()["event"] == "sla.breached"
        assert breached.json()["data"]["violations"] == ["min_success_rate"]
        for _ in range(10):
            customer_writes(client, boot, sender="6285" + str(uuid.uuid4().int)[:8])
        told = consumer.wait_for("/watch", 2)
        assert [r.json()["event"] for r in told] == ["sla.breached", "sla.recovered"]
        state = client.get(f"/v1/manage/projects/{boot['project_id']}/sla", headers=token).json()["data"]
        # Recovery needs 9 successes beside the failure (0.9); the evaluation may come before the 11th.
        assert state["state"] == "ok" and state["deliveries"] >= 10
        metrics = wait_for(
            lambda: "kirem_sla_breached" in client.get("/metrics").text and client.get("/metrics").text
        )
        assert f'kirem_sla_breached{{project_id="{boot["project_id"]}"}} 0.0' in metrics
        assert len(consumer.at("/watch")) == 2  # each transition once


def test_the_cli_mints_keys_for_the_dedicated_endpoint_on_enterprise_only(
    server: Server, client: httpx.Client
) -> None:
    name = f"acct-{uuid.uuid4().hex[:8]}"
    boot = server.bootstrap(plan="enterprise", account=name)
    path, _ = dedicated(client, boot)
    minted = server.cli("keys", "create", name, "main", "--scope", "mcp", "--json")
    key = orjson.loads(minted.stdout)
    assert key["scope"] == "mcp" and key["key"].startswith("kirem_mcp_live_")
    assert post_rpc(client, path, key["key"]).status_code == 200

    growth = f"acct-{uuid.uuid4().hex[:8]}"
    server.bootstrap(plan="growth", account=growth)
    refused = server.cli("keys", "create", growth, "main", "--scope", "mcp", check=False)
    assert refused.returncode == 1 and "enterprise plan" in refused.stderr
    wrong = server.cli("keys", "create", name, "main", "--scope", "everything", check=False)
    assert wrong.returncode == 1 and "scope" in wrong.stderr
