"""Customers known by a business-scoped user id (BSUID): a phone-less customer writes through the
sandbox, and Kirem answers them with ``recipient`` on every send path, its statuses logged."""

from __future__ import annotations

import json
from typing import Any

import httpx

from kirem.sandbox.customers import derived_user_id
from tests.e2e.conftest import Server, auth, wait_for

USER_ID = "US.13491208655302741918"


def username_customer_writes(
    client: httpx.Client, boot: dict[str, Any], user_id: str | None = None, username: str = "@sheena"
) -> str:
    """A customer with a username and no phone number writes (no ``from``), as Meta delivers them."""
    body: dict[str, Any] = {
        "phone_number_id": boot["phone_number_id"],
        "username": username,
        "profile_name": "Sheena",
        "message": {"type": "text", "text": {"body": "Halo dari username"}},
    }
    if user_id:
        body["user_id"] = user_id
    response = client.post("/sandbox/v1/inbound", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["wamid"])


def event_of(client: httpx.Client, key: str, wamid: str) -> dict[str, Any] | None:
    response = client.get("/v1/events", params={"event": "messages.received"}, headers=auth(key))
    assert response.status_code == 200, response.text
    found = [e for e in response.json()["data"]["events"] if e["data"].get("message_id") == wamid]
    return found[0] if found else None


def logged(client: httpx.Client, key: str, **filters: str) -> list[dict[str, Any]]:
    response = client.get("/v1/analytics/messages", params=filters, headers=auth(key))
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["logs"])


def to_bsuid(user_id: str, text: str = "Halo Sheena") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient": user_id, "type": "text", "text": {"body": text}}


def test_a_username_only_customer_is_answered_by_recipient(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    wamid = username_customer_writes(client, boot)
    event = wait_for(lambda: event_of(client, key, wamid))
    assert event is not None, "the phone-less webhook was not accepted"
    assert not event["data"].get("from")

    user_id = derived_user_id(boot["waba_id"], username="@sheena")
    response = client.post("/v1/messages", json=to_bsuid(user_id), headers=auth(key))
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["contacts"] == [{"input": user_id, "user_id": user_id}]
    sent = data["messages"][0]["id"]

    def read() -> list[dict[str, Any]]:
        return [log for log in logged(client, key, recipient=user_id) if log["status"] == "read"]

    [log] = wait_for(read)  # sent, delivered and read statuses with no recipient_id reached the log
    assert log["message_id"] == sent and log["recipient_user_id"] == user_id and log["recipient"] == ""


def test_recipient_on_every_send_path(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key, pnid = boot["api_key"], boot["phone_number_id"]
    username_customer_writes(client, boot, user_id=USER_ID)  # opens the window of USER_ID

    scoped = client.post(f"/v1/{pnid}/messages", json=to_bsuid(USER_ID, "dua"), headers=auth(key))
    assert scoped.status_code == 201, scoped.text
    assert scoped.json()["data"]["contacts"] == [{"input": USER_ID, "user_id": USER_ID}]

    graph = client.post(f"/v23.0/{pnid}/messages", json=to_bsuid(USER_ID, "tiga"), headers=auth(key))
    assert graph.status_code == 200, graph.text
    assert graph.json()["contacts"] == [{"input": USER_ID, "user_id": USER_ID}]
    wamids = {scoped.json()["data"]["messages"][0]["id"], graph.json()["messages"][0]["id"]}

    def all_read() -> bool:
        logs = logged(client, key, recipient=USER_ID)
        return {log["message_id"] for log in logs if log["status"] == "read"} == wamids

    assert wait_for(all_read)


BAD_ADDRESSEES: list[tuple[dict[str, Any], str]] = [
    ({"to": "62812345678", "recipient": USER_ID}, "recipient"),
    ({}, "to"),
    ({"recipient": "US.1349 1208"}, "recipient"),
    ({"recipient": "62812345678"}, "recipient"),
    ({"recipient": "US." + "9" * 129}, "recipient"),
    ({"recipient": "US." + "9" * 100_000}, "recipient"),
    ({"recipient": None}, "to"),  # an explicit null is an absent field, as on Meta
    ({"recipient": {"id": USER_ID}}, "recipient"),
]


def test_bad_addressees_are_field_errors_on_every_send_path(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key, pnid = boot["api_key"], boot["phone_number_id"]
    text = {"messaging_product": "whatsapp", "type": "text", "text": {"body": "x"}}
    for addressee, field in BAD_ADDRESSEES:
        body = {**text, **addressee}
        for path in ("/v1/messages", f"/v1/{pnid}/messages"):
            response = client.post(path, json=body, headers=auth(key))
            assert response.status_code == 400, (path, addressee, response.text)
            wrapped = response.json()
            assert wrapped["status"] == 400 and set(wrapped["errors"]) == {field}, wrapped
        graph = client.post(f"/v23.0/{pnid}/messages", json=body, headers=auth(key))
        assert graph.status_code == 400, graph.text
        error = graph.json()["error"]
        assert error["code"] == (131008 if field == "to" else 100), error
        assert error["error_data"]["details"].startswith(f"{field}: "), error
    assert logged(client, key, direction="outbound") == []  # nothing was counted or sent


def test_the_cli_simulates_a_username_only_customer(server: Server, client: httpx.Client) -> None:
    boot = server.bootstrap()
    key = boot["api_key"]
    out = server.cli(
        "sandbox", "inbound", "--phone-number-id", boot["phone_number_id"], "--username", "@sheena",
        "--text", "Halo dari CLI", "--url", server.url,
    )  # fmt: skip
    wamid = json.loads(out.stdout)["wamid"]
    event = wait_for(lambda: event_of(client, key, wamid))
    assert event is not None and not event["data"].get("from")
    user_id = derived_user_id(boot["waba_id"], username="@sheena")
    response = client.post("/v1/messages", json=to_bsuid(user_id), headers=auth(key))
    assert response.status_code == 201, response.text
