"""Sandbox business profile: the OpenAPI response shape, fields, updates and their checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kirem.config import Settings
from kirem.db.engine import Database
from tests.unit.sandbox_support import SandboxHarness, bearer, running_sandbox


@pytest.fixture
async def sandbox(settings: Settings, database: Database) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database) as harness:
        yield harness


async def test_profile_get_and_update(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    other = await sandbox.provision()
    path = f"/v23.0/{number.phone_number_id}/whatsapp_business_profile"
    auth = bearer(number.access_token)

    initial = await sandbox.client.get(path, headers=auth)
    assert initial.status_code == 200
    assert initial.json() == {
        "data": [
            {
                "business_profile": {
                    "messaging_product": "whatsapp",
                    "about": "Hey there! I am using WhatsApp.",
                    "vertical": "OTHER",
                }
            }
        ]
    }

    update = {
        "messaging_product": "whatsapp",
        "about": "Toko kue sejak 1998",
        "address": "Jl. Merdeka 1, Bandung",
        "description": "Kue basah dan kering",
        "email": "halo@toko.example",
        "websites": ["https://toko.example", "https://www.instagram.com/toko"],
        "vertical": "RESTAURANT",
        "profile_picture_handle": "4:abc",
    }
    saved = await sandbox.client.post(path, json=update, headers=auth)
    assert saved.status_code == 200 and saved.json() == {"success": True}

    full = (await sandbox.client.get(path, headers=auth)).json()["data"][0]["business_profile"]
    assert full == {k: v for k, v in update.items() if k != "profile_picture_handle"}

    some = await sandbox.client.get(path, params={"fields": "about,websites"}, headers=auth)
    assert some.json() == {
        "data": [
            {
                "business_profile": {
                    "messaging_product": "whatsapp",
                    "about": update["about"],
                    "websites": update["websites"],
                }
            }
        ]
    }
    other_profile = (
        await sandbox.client.get(
            f"/v23.0/{other.phone_number_id}/whatsapp_business_profile", headers=bearer(other.access_token)
        )
    ).json()["data"][0]["business_profile"]
    assert other_profile["about"] == "Hey there! I am using WhatsApp."

    foreign = await sandbox.client.get(path, headers=bearer(other.access_token))
    assert foreign.status_code == 400 and foreign.json()["error"]["error_subcode"] == 33


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"about": ""}, "about"),
        ({"about": "x" * 140}, "about"),
        ({"email": "not-an-email"}, "email"),
        ({"websites": ["https://a.example", "https://b.example", "https://c.example"]}, "websites"),
        ({"websites": ["javascript:alert(1)"]}, "websites"),
        ({"vertical": "SPACESHIPS"}, "vertical"),
        ({"messaging_product": None}, "messaging_product"),
    ],
)
async def test_profile_update_checks(sandbox: SandboxHarness, change: dict[str, Any], needle: str) -> None:
    number = await sandbox.provision()
    body = {k: v for k, v in {"messaging_product": "whatsapp", **change}.items() if v is not None}
    response = await sandbox.client.post(
        f"/v23.0/{number.phone_number_id}/whatsapp_business_profile",
        json=body,
        headers=bearer(number.access_token),
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 100
    assert needle in error["message"] + error.get("error_data", {}).get("details", "")


async def test_profile_unknown_field(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await sandbox.client.get(
        f"/v23.0/{number.phone_number_id}/whatsapp_business_profile",
        params={"fields": "about,favourite_colour"},
        headers=bearer(number.access_token),
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == (
        "(#100) Tried accessing nonexisting field (favourite_colour) on node type (WhatsAppBusinessProfile)"
    )


async def test_an_unexpected_failure_answers_metas_transient_error(
    sandbox: SandboxHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr("kirem.sandbox.routes.get_profile", explode)
    number = await sandbox.provision()
    response = await sandbox.client.get(
        f"/v23.0/{number.phone_number_id}/whatsapp_business_profile", headers=bearer(number.access_token)
    )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == 2 and error["is_transient"] is True
    assert "boom" not in response.text and "Traceback" not in response.text


async def test_profile_update_reads_null_as_absent_and_ignores_unknown_fields(
    sandbox: SandboxHarness,
) -> None:
    number = await sandbox.provision()
    path = f"/v23.0/{number.phone_number_id}/whatsapp_business_profile"
    auth = bearer(number.access_token)
    update = {
        "messaging_product": "whatsapp",
        "about": "Buka 24 jam",
        "email": None,
        "future_field": {"x": 1},
    }
    saved = await sandbox.client.post(path, json=update, headers=auth)
    assert saved.status_code == 200 and saved.json() == {"success": True}, saved.text
    profile = (await sandbox.client.get(path, headers=auth)).json()["data"][0]["business_profile"]
    assert profile["about"] == "Buka 24 jam" and "email" not in profile and "future_field" not in profile
