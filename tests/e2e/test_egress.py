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
