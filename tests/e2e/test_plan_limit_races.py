"""Plan limits hold under concurrency: 20 parallel creates leave exactly the limit, the rest are 403s."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx

from tests.e2e.conftest import Server, auth

OPERATOR = {"Authorization": "Bearer operator-e2e"}
PARALLEL = 20


def burst(
    server: Server, path: str, headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    """POST every body to ``path`` at once, each on its own connection."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
            return list(await asyncio.gather(*(http.post(path, json=b, headers=headers) for b in bodies)))

    return asyncio.run(run())


def assert_exactly(responses: list[httpx.Response], allowed: int) -> None:
    """``allowed`` creates succeeded; every other one is the plan refusal in the error wrapper."""
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: allowed, 403: len(responses) - allowed}, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 403):
        body = refused.json()
        assert body["status"] == 403 and "plan allows" in body["message"], body
        assert body["errors"]["plan"], body


def new_account(client: httpx.Client, plan: str = "developer") -> dict[str, str]:
    name = f"race-{uuid.uuid4().hex[:8]}"
    created = client.post("/v1/operator/accounts", json={"name": name, "plan": plan}, headers=OPERATOR)
    assert created.status_code == 201, created.text
    return auth(created.json()["data"]["account_token"])


def test_parallel_project_creates_stop_at_the_plan_limit(server: Server, client: httpx.Client) -> None:
    token = new_account(client)
    responses = burst(server, "/v1/manage/projects", token, [{"name": f"p{i}"} for i in range(PARALLEL)])
    assert_exactly(responses, 1)
    assert len(client.get("/v1/manage/projects", headers=token).json()["data"]) == 1


def test_parallel_channel_creates_stop_at_the_plan_limit(server: Server, client: httpx.Client) -> None:
    token = new_account(client)
    project = client.post("/v1/manage/projects", json={"name": "main"}, headers=token).json()["data"]
    path = f"/v1/manage/projects/{project['id']}/channels"
    responses = burst(server, path, token, [{"kind": "sandbox", "name": f"c{i}"} for i in range(PARALLEL)])
    assert_exactly(responses, 1)
    assert len(client.get(path, headers=token).json()["data"]) == 1


def test_parallel_live_channel_creates_stop_at_the_plan_limit(server: Server, client: httpx.Client) -> None:
    token = new_account(client)
    project = client.post("/v1/manage/projects", json={"name": "main"}, headers=token).json()["data"]
    path = f"/v1/manage/projects/{project['id']}/channels"
    base = 106540352000000 + uuid.uuid4().int % 10**8 * 100
    bodies = [
        {
            "kind": "live",
            "phone_number_id": str(base + i),
            "waba_id": "102290129340398",
            "access_token": "EAAG",
            "verify": False,
        }
        for i in range(PARALLEL)
    ]
    assert_exactly(burst(server, path, token, bodies), 1)


def test_parallel_target_creates_stop_at_the_plan_limit(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="developer")
    bodies = [{"url": f"http://127.0.0.1:9/hook{i}"} for i in range(PARALLEL)]
    assert_exactly(burst(server, "/v1/webhooks/targets", auth(boot["api_key"]), bodies), 1)
    listed = client.get("/v1/webhooks/targets", headers=auth(boot["api_key"])).json()["data"]
    assert len(listed) == 1


def test_parallel_rule_creates_stop_at_the_plan_limit(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="growth")
    key = auth(boot["api_key"])
    target = client.post("/v1/webhooks/targets", json={"url": "http://127.0.0.1:9/hook"}, headers=key)
    assert target.status_code == 201, target.text
    bodies = [
        {
            "name": f"r{i}",
            "conditions": {"message_types": ["text"]},
            "target_ids": [target.json()["data"]["id"]],
        }
        for i in range(PARALLEL)
    ]
    assert_exactly(burst(server, "/v1/webhooks/rules", key, bodies), 5)
    assert len(client.get("/v1/webhooks/rules", headers=key).json()["data"]) == 5


def assert_one_created(responses: list[httpx.Response], message: str) -> None:
    """Creating the same unique thing at once: one 201, every other a 409 in the error wrapper."""
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: len(responses) - 1}, [r.text for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["status"] == 409 and refused.json()["message"] == message


def test_parallel_creates_of_one_project_name_are_one_project_and_409s(
    server: Server, client: httpx.Client
) -> None:
    token = new_account(client, plan="growth")
    responses = burst(server, "/v1/manage/projects", token, [{"name": "same"}] * PARALLEL)
    assert_one_created(responses, "A project with this name already exists in the account")


def test_parallel_connects_of_one_number_are_one_channel_and_409s(
    server: Server, client: httpx.Client
) -> None:
    tokens = [new_account(client, plan="growth") for _ in range(2)]
    projects = [client.post("/v1/manage/projects", json={"name": "m"}, headers=t).json() for t in tokens]
    paths = [f"/v1/manage/projects/{p['data']['id']}/channels" for p in projects]
    number = str(106540353000000 + uuid.uuid4().int % 10**9)
    body = {
        "kind": "live",
        "phone_number_id": number,
        "waba_id": "102290129340398",
        "access_token": "EAAG",
        "verify": False,
    }

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=PARALLEL, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
            calls = [http.post(paths[i % 2], json=body, headers=tokens[i % 2]) for i in range(PARALLEL)]
            return list(await asyncio.gather(*calls))

    assert_one_created(asyncio.run(run()), "This phone number is already connected")


def test_parallel_creates_of_one_account_name_are_one_account_and_409s(
    server: Server, client: httpx.Client
) -> None:
    body = {"name": f"race-{uuid.uuid4().hex[:8]}"}
    responses = burst(server, "/v1/operator/accounts", OPERATOR, [body] * PARALLEL)
    assert_one_created(responses, "An account with this name already exists")
