"""Dedicated egress on the real server: a project's deliveries leave from its bound address, then
through its proxy, while another project's leave the default way."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Server, auth, wait_for
from tests.egress_servers import forward_proxy, recorder


def customer_writes(client: httpx.Client, phone_number_id: str, text: str) -> None:
    inbound = {
        "phone_number_id": phone_number_id,
        "from": "6281234567890",
        "message": {"type": "text", "text": {"body": text}},
    }
    assert client.post("/sandbox/v1/inbound", json=inbound).status_code == 200


def test_deliveries_leave_from_the_projects_address_then_through_its_proxy(
    server: Server, client: httpx.Client
) -> None:
    dedicated, plain = server.bootstrap(plan="scale"), server.bootstrap(plan="scale")
    egress = f"/v1/manage/projects/{dedicated['project_id']}/egress"
    with recorder() as consumer, forward_proxy(source="127.0.0.3") as proxy:
        for boot in (dedicated, plain):
            target = client.post(
                "/v1/webhooks/targets",
                json={"url": consumer.url + "/hook", "events": ["messages.received"]},
                headers=auth(boot["api_key"]),
            )
            assert target.status_code == 201, target.text
        bound = client.put(
            egress, json={"bind_address": "127.0.0.2"}, headers=auth(dedicated["account_token"])
        )
        assert bound.status_code == 200, bound.text

        customer_writes(client, dedicated["phone_number_id"], "one")
        customer_writes(client, plain["phone_number_id"], "two")
        assert wait_for(lambda: len(consumer.seen()) >= 2, timeout=20)
        assert sorted(consumer.seen()) == ["127.0.0.1", "127.0.0.2"]

        proxied = client.put(egress, json={"proxy_url": proxy.url}, headers=auth(dedicated["account_token"]))
        assert proxied.status_code == 200 and proxied.json()["data"]["bind_address"] is None
        customer_writes(client, dedicated["phone_number_id"], "three")
        assert wait_for(lambda: len(consumer.seen()) >= 3, timeout=20)
        assert consumer.seen()[2] == "127.0.0.3"
        assert [(method, target) for method, target, _ in proxy.seen()] == [("POST", consumer.url + "/hook")]


def test_a_downgrade_keeps_the_address_unused_until_an_upgrade(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap(plan="scale")
    account, operator = auth(boot["account_token"]), auth("operator-e2e")
    egress = f"/v1/manage/projects/{boot['project_id']}/egress"

    def set_plan(plan: str) -> dict[str, list[str]]:
        changed = client.patch(
            f"/v1/operator/accounts/{boot['account_id']}", json={"plan": plan}, headers=operator
        )
        assert changed.status_code == 200, changed.text
        return dict(changed.json()["data"]["changes"]["egress"])

    with recorder() as consumer:
        target = client.post(
            "/v1/webhooks/targets",
            json={"url": consumer.url + "/hook", "events": ["messages.received"]},
            headers=auth(boot["api_key"]),
        )
        assert target.status_code == 201, target.text
        assert client.put(egress, json={"bind_address": "127.0.0.2"}, headers=account).status_code == 200

        assert set_plan("growth") == {"disabled": [boot["project_id"]], "enabled": []}
        shown = client.get(egress, headers=account).json()["data"]
        assert shown["bind_address"] == "127.0.0.2" and shown["active"] is False
        assert "not part of the growth plan" in shown["inactive_reason"]
        customer_writes(client, boot["phone_number_id"], "on growth")
        assert wait_for(lambda: len(consumer.seen()) >= 1, timeout=20)
        assert consumer.seen() == ["127.0.0.1"]

        assert set_plan("scale") == {"disabled": [], "enabled": [boot["project_id"]]}
        assert client.get(egress, headers=account).json()["data"]["active"] is True
        customer_writes(client, boot["phone_number_id"], "on scale")
        assert wait_for(lambda: len(consumer.seen()) >= 2, timeout=20)
        assert consumer.seen() == ["127.0.0.1", "127.0.0.2"]
