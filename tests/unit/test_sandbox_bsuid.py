"""Sandbox customers by business-scoped user id: stable BSUIDs, phone-less customers, sends to a BSUID."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kirem.bsuid import is_bsuid
from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.customers import derived_user_id
from tests.unit.sandbox_support import ProvisionedNumber, SandboxHarness, running_sandbox

PHONE = "62812345678"
HALO = {"type": "text", "text": {"body": "Halo"}}


@pytest.fixture
async def sandbox(settings: Settings, database: Database) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database) as harness:
        yield harness


async def writes(sandbox: SandboxHarness, number: ProvisionedNumber, **customer: Any) -> dict[str, Any]:
    body = {"phone_number_id": number.phone_number_id, "message": HALO, **customer}
    response = await sandbox.client.post("/v1/inbound", json=body)
    assert response.status_code == 200, response.text
    await sandbox.runtime.idle()
    return sandbox.recorder.posts[-1].value


def to_bsuid(user_id: str) -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "recipient": user_id, "type": "text", "text": {"body": "Hi"}}


def test_a_customer_keeps_one_bsuid_per_portfolio() -> None:
    first = derived_user_id("100000000000001", wa_id=PHONE)
    assert is_bsuid(first) and first.startswith("ID.")
    assert derived_user_id("100000000000001", wa_id=PHONE) == first
    assert derived_user_id("100000000000002", wa_id=PHONE) != first
    assert derived_user_id("100000000000001", wa_id="16505551234").startswith("US.")
    by_name = derived_user_id("100000000000001", username="@sheena")
    assert is_bsuid(by_name) and by_name == derived_user_id("100000000000001", username="@Sheena")


async def test_the_same_customer_has_the_same_user_id_in_every_webhook(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    first = await writes(sandbox, number, **{"from": PHONE})
    second = await writes(sandbox, number, **{"from": "+62 812-345-678"})
    user_id = first["contacts"][0]["user_id"]
    assert is_bsuid(user_id)
    assert second["contacts"][0]["user_id"] == user_id
    assert first["messages"][0]["from_user_id"] == second["messages"][0]["from_user_id"] == user_id
    other = await sandbox.provision()
    assert (await writes(sandbox, other, **{"from": PHONE}))["contacts"][0]["user_id"] != user_id


async def test_a_username_customer_without_from_is_delivered_phone_less(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    value = await writes(sandbox, number, username="@sheena", profile_name="Sheena")
    [contact] = value["contacts"]
    [message] = value["messages"]
    assert "wa_id" not in contact and "from" not in message
    assert contact["profile"] == {"name": "Sheena", "username": "@sheena"}
    assert is_bsuid(contact["user_id"]) and message["from_user_id"] == contact["user_id"]
    again = await writes(sandbox, number, username="@sheena")
    assert again["contacts"][0]["user_id"] == contact["user_id"]


async def test_a_given_user_id_is_used_as_is(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    value = await writes(sandbox, number, user_id="US.13491208655302741918", username="sheena")
    assert value["contacts"][0]["user_id"] == "US.13491208655302741918"
    assert value["messages"][0]["from_user_id"] == "US.13491208655302741918"
    with_phone = await writes(sandbox, number, user_id="US.13491208655302741918", **{"from": PHONE})
    assert with_phone["contacts"][0] == {
        "profile": {"name": "Sandbox Customer"},
        "wa_id": PHONE,
        "user_id": "US.13491208655302741918",
    }


async def test_a_send_to_a_bsuid_inside_the_window(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    user_id = (await writes(sandbox, number, username="@sheena"))["contacts"][0]["user_id"]
    response = await sandbox.send(number, to_bsuid(user_id))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["contacts"] == [{"input": user_id, "user_id": user_id}]
    wamid = answer["messages"][0]["id"]
    await sandbox.runtime.idle()
    statuses = sandbox.recorder.statuses(wamid)
    assert [s["status"] for s in statuses] == ["sent", "delivered", "read"]
    assert all("recipient_id" not in s and s["recipient_user_id"] == user_id for s in statuses)


async def test_a_phone_customer_is_in_the_window_by_bsuid_too(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    user_id = (await writes(sandbox, number, **{"from": PHONE}))["contacts"][0]["user_id"]
    wamid = (await sandbox.send(number, to_bsuid(user_id))).json()["messages"][0]["id"]
    by_phone = {"messaging_product": "whatsapp", "to": PHONE, "type": "text", "text": {"body": "Hi"}}
    phone_wamid = (await sandbox.send(number, by_phone)).json()["messages"][0]["id"]
    await sandbox.runtime.idle()
    assert [s["status"] for s in sandbox.recorder.statuses(wamid)] == ["sent", "delivered", "read"]
    phone_statuses = sandbox.recorder.statuses(phone_wamid)
    assert [s["status"] for s in phone_statuses] == ["sent", "delivered", "read"]
    assert all(s["recipient_id"] == PHONE and s["recipient_user_id"] == user_id for s in phone_statuses)


async def test_a_bsuid_that_never_wrote_is_outside_the_window(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    wamid = (await sandbox.send(number, to_bsuid("US.13491208655302741918"))).json()["messages"][0]["id"]
    await sandbox.runtime.idle()
    [failed] = sandbox.recorder.statuses(wamid)
    assert failed["status"] == "failed" and failed["errors"][0]["code"] == 131047
    assert "recipient_id" not in failed and failed["recipient_user_id"] == "US.13491208655302741918"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"to": PHONE, "recipient": "US.13491208655302741918"}, "not both"),
        ({"recipient": "US.1349 1208"}, "recipient"),
        ({"recipient": "US." + "9" * 129}, "recipient"),
        ({"recipient": 42}, "recipient"),
    ],
)
async def test_bad_recipients_get_metas_error_100(
    sandbox: SandboxHarness, body: dict[str, Any], detail: str
) -> None:
    number = await sandbox.provision()
    send = {"messaging_product": "whatsapp", "type": "text", "text": {"body": "Hi"}, **body}
    response = await sandbox.send(number, send)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100 and detail in error["error_data"]["details"]


@pytest.mark.parametrize(
    ("customer", "field"),
    [
        ({}, "from"),
        ({"user_id": "6281234"}, "user_id"),
        ({"user_id": "US." + "1" * 129}, "user_id"),
        ({"username": "two words"}, "username"),
        ({"username": "x" * 36}, "username"),
        ({"username": 5}, "username"),
    ],
)
async def test_bad_simulator_customers_name_the_field(
    sandbox: SandboxHarness, customer: dict[str, Any], field: str
) -> None:
    number = await sandbox.provision()
    body = {"phone_number_id": number.phone_number_id, "message": HALO, **customer}
    response = await sandbox.client.post("/v1/inbound", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["error_data"]["details"].startswith(field + ":")
