"""Sandbox templates: creation, review and its webhook, listing, deletion, and checks on send."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.provisioning import ProvisionedNumber, revoke_number
from kirem.sandbox.templates import create_template, list_templates
from tests.racing import CommitsBetweenStatements
from tests.unit.sandbox_support import FakeClock, SandboxHarness, bearer, running_sandbox

CUSTOMER = "62812345678"
ORDER_UPDATE = {
    "name": "order_update",
    "language": "id",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Pesanan {{1}}"},
        {
            "type": "BODY",
            "text": "Halo {{1}}, pesanan {{2}} dikirim {{3}}.",
            "example": {"body_text": [["a", "b", "c"]]},
        },
        {"type": "FOOTER", "text": "Kirem"},
    ],
}


@pytest.fixture
async def sandbox(settings: Settings, database: Database) -> AsyncIterator[SandboxHarness]:
    async with running_sandbox(settings, database) as harness:
        yield harness


async def create(sandbox: SandboxHarness, number: ProvisionedNumber, body: dict[str, Any]) -> Any:
    return await sandbox.client.post(
        f"/v23.0/{number.waba_id}/message_templates", json=body, headers=bearer(number.access_token)
    )


async def listing(sandbox: SandboxHarness, number: ProvisionedNumber, **params: Any) -> Any:
    return await sandbox.client.get(
        f"/v23.0/{number.waba_id}/message_templates", params=params, headers=bearer(number.access_token)
    )


def template_send(name: str, language: str, components: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components is not None:
        template["components"] = components
    return {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template", "template": template}


def body_params(*values: str) -> list[dict[str, Any]]:
    return [{"type": "body", "parameters": [{"type": "text", "text": v} for v in values]}]


async def test_new_waba_lists_hello_world(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await listing(sandbox, number)
    assert response.status_code == 200
    [hello] = response.json()["data"]
    assert hello["name"] == "hello_world" and hello["language"] == "en_US"
    assert hello["status"] == "APPROVED" and hello["category"] == "MARKETING"
    assert [c["type"] for c in hello["components"]] == ["HEADER", "BODY", "FOOTER"]
    assert set(response.json()["paging"]["cursors"]) == {"before", "after"}


async def test_created_template_is_approved_after_review_with_a_webhook(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await create(sandbox, number, ORDER_UPDATE)
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["status"] == "PENDING" and created["category"] == "UTILITY" and created["id"].isdigit()

    await sandbox.runtime.idle()
    [update] = sandbox.recorder.template_updates()
    assert update == {
        "event": "APPROVED",
        "message_template_id": int(created["id"]),
        "message_template_name": "order_update",
        "message_template_language": "id",
        "reason": "NONE",
        "message_template_category": "UTILITY",
    }
    post = sandbox.recorder.posts[-1]
    assert post.signature_valid
    assert post.payload["entry"][0]["id"] == number.waba_id
    assert isinstance(post.payload["entry"][0]["time"], int)

    [template] = (await listing(sandbox, number, name="order_update")).json()["data"]
    assert template["status"] == "APPROVED" and template["id"] == created["id"]

    send = await sandbox.send(
        number,
        template_send(
            "order_update",
            "id",
            [
                {"type": "header", "parameters": [{"type": "text", "text": "A1"}]},
                *body_params("Budi", "A1", "besok"),
            ],
        ),
    )
    assert send.status_code == 200, send.text
    await sandbox.runtime.idle()
    wamid = send.json()["messages"][0]["id"]
    assert [s["status"] for s in sandbox.recorder.statuses(wamid)] == ["sent", "delivered", "read"]
    # A utility template outside the service window is billed.
    assert sandbox.recorder.statuses(wamid)[0]["pricing"]["billable"] is True


async def test_reject_prefix_is_rejected_at_review(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    created = (await create(sandbox, number, {**ORDER_UPDATE, "name": "reject_me"})).json()
    await sandbox.runtime.idle()
    [update] = sandbox.recorder.template_updates()
    assert update["event"] == "REJECTED" and update["reason"] == "INVALID_FORMAT"
    [template] = (await listing(sandbox, number, status="REJECTED")).json()["data"]
    assert template["id"] == created["id"] and template["rejected_reason"] == "INVALID_FORMAT"

    response = await sandbox.send(number, template_send("reject_me", "id", body_params("a", "b", "c")))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 132000 and error["error_subcode"] == 2490001
    assert error["message"] == "(#132000) Template status is not APPROVED."


async def test_pending_template_cannot_be_sent(settings: Settings, database: Database) -> None:
    slow = settings.model_copy(update={"sandbox_review_seconds": 3600.0})
    async with running_sandbox(slow, database) as sandbox:
        number = await sandbox.provision()
        await create(sandbox, number, ORDER_UPDATE)
        response = await sandbox.send(number, template_send("order_update", "id", body_params("a", "b", "c")))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == 132000
        assert response.json()["error"]["error_subcode"] == 2490001
        [template] = (await listing(sandbox, number, name="order")).json()["data"]
        assert template["status"] == "PENDING"


async def test_due_reviews_are_applied_when_read_after_a_restart(
    settings: Settings, database: Database
) -> None:
    clock = FakeClock()
    slow = settings.model_copy(update={"sandbox_review_seconds": 60.0})
    async with running_sandbox(slow, database, clock=clock) as first:
        number = await first.provision()
        created = (await create(first, number, ORDER_UPDATE)).json()
    # The first app is closed before its review ran; a new one finds the review due.
    clock.advance(seconds=61)
    async with running_sandbox(slow, database, clock=clock) as second:
        [template] = (await listing(second, number, name="order_update")).json()["data"]
        assert template["status"] == "APPROVED"
        await second.runtime.idle()
        updates = second.recorder.template_updates()
        assert [(u["message_template_id"], u["event"]) for u in updates] == [(int(created["id"]), "APPROVED")]


async def test_pending_reviews_resume_when_a_new_app_starts(settings: Settings, database: Database) -> None:
    slow = settings.model_copy(update={"sandbox_review_seconds": 0.5})
    async with running_sandbox(slow, database) as first:
        number = await first.provision()
        await create(first, number, ORDER_UPDATE)
    async with running_sandbox(slow, database) as second:
        await second.client.get("/v23.0/1/unknown/path")  # any request starts the app
        await second.runtime.idle()
        assert [u["event"] for u in second.recorder.template_updates()] == ["APPROVED"]


async def test_unknown_template_gets_132001(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await sandbox.send(number, template_send("hello_world", "id"))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == 132001
    assert error["message"] == "(#132001) Template name does not exist in the translation"
    assert error["error_data"]["details"] == "template name (hello_world) does not exist in id"

    other = await sandbox.provision()
    await create(sandbox, other, ORDER_UPDATE)
    await sandbox.runtime.idle()
    foreign = await sandbox.send(number, template_send("order_update", "id", body_params("a", "b", "c")))
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == 132001


@pytest.mark.parametrize(
    ("components", "details"),
    [
        (
            body_params("Budi"),
            "header: number of localizable_params (0) does not match the expected number of params (1)",
        ),
        (
            [{"type": "header", "parameters": [{"type": "text", "text": "A1"}]}, *body_params("Budi")],
            "body: number of localizable_params (1) does not match the expected number of params (3)",
        ),
        (
            [{"type": "header", "parameters": [{"type": "text", "text": "A1"}]}],
            "body: number of localizable_params (0) does not match the expected number of params (3)",
        ),
    ],
)
async def test_parameter_count_mismatch_gets_132000(
    sandbox: SandboxHarness, components: list[dict[str, Any]], details: str
) -> None:
    number = await sandbox.provision()
    await create(sandbox, number, ORDER_UPDATE)
    await sandbox.runtime.idle()
    response = await sandbox.send(number, template_send("order_update", "id", components))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 132000
    assert error["message"] == "(#132000) Number of parameters does not match the expected number of params"
    assert error["error_data"] == {"messaging_product": "whatsapp", "details": details}


async def test_hello_world_takes_no_parameters(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    response = await sandbox.send(number, template_send("hello_world", "en_US", body_params("extra")))
    assert response.status_code == 400 and response.json()["error"]["code"] == 132000


async def test_named_parameters_and_authentication_templates(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    named = {
        "name": "named_vars",
        "language": "en_US",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [{"type": "BODY", "text": "Hi {{first_name}}, code {{code}} for {{first_name}}"}],
    }
    otp = {
        "name": "login_code",
        "language": "en_US",
        "category": "AUTHENTICATION",
        "components": [
            {"type": "BODY", "add_security_recommendation": True},
            {"type": "BUTTONS", "buttons": [{"type": "OTP", "otp_type": "COPY_CODE", "text": "Copy"}]},
        ],
    }
    assert (await create(sandbox, number, named)).status_code == 200
    assert (await create(sandbox, number, otp)).status_code == 200
    await sandbox.runtime.idle()
    ok = await sandbox.send(number, template_send("named_vars", "en_US", body_params("Budi", "X1")))
    assert ok.status_code == 200, ok.text
    code = await sandbox.send(number, template_send("login_code", "en_US", body_params("123456")))
    assert code.status_code == 200, code.text
    missing = await sandbox.send(number, template_send("login_code", "en_US"))
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 132000


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"name": "Has Spaces"}, "lowercase"),
        ({"name": None}, "name"),
        ({"category": "PROMO"}, "category"),
        ({"language": "english!"}, "language"),
        ({"components": [{"type": "FOOTER", "text": "x"}]}, "BODY"),
        ({"components": "body"}, "components"),
    ],
)
async def test_invalid_templates_get_error_100(
    sandbox: SandboxHarness, change: dict[str, Any], needle: str
) -> None:
    number = await sandbox.provision()
    body = {k: v for k, v in {**ORDER_UPDATE, **change}.items() if v is not None}
    response = await create(sandbox, number, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 100
    assert needle in error["message"] + error.get("error_data", {}).get("details", "")


async def test_duplicate_name_and_language_gets_2388024(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    assert (await create(sandbox, number, ORDER_UPDATE)).status_code == 200
    duplicate = await create(sandbox, number, ORDER_UPDATE)
    assert duplicate.status_code == 400
    error = duplicate.json()["error"]
    assert error["code"] == 100 and error["error_subcode"] == 2388024
    assert "already exists" in error["message"]
    assert (await create(sandbox, number, {**ORDER_UPDATE, "language": "en_US"})).status_code == 200
    hello = await create(sandbox, number, {**ORDER_UPDATE, "name": "hello_world", "language": "en_US"})
    assert hello.json()["error"]["error_subcode"] == 2388024


async def test_listing_pages_and_filters(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    for index in range(5):
        assert (await create(sandbox, number, {**ORDER_UPDATE, "name": f"promo_{index}"})).status_code == 200
    await sandbox.runtime.idle()
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    pages = 0
    while True:
        page = (await listing(sandbox, number, **params)).json()
        pages += 1
        seen.extend(t["name"] for t in page["data"])
        if "next" not in page.get("paging", {}):
            break
        params = {"limit": 2, "after": page["paging"]["cursors"]["after"]}
    assert pages == 3
    assert sorted(seen) == sorted([*(f"promo_{i}" for i in range(5)), "hello_world"])
    assert len(set(seen)) == 6

    promos = (await listing(sandbox, number, name="promo", limit=100)).json()["data"]
    assert len(promos) == 5
    utility = (await listing(sandbox, number, category="UTILITY", status="APPROVED")).json()["data"]
    assert {t["name"] for t in utility} == {f"promo_{i}" for i in range(5)}
    empty = (await listing(sandbox, number, status="PENDING")).json()
    assert empty == {"data": []}
    bad = await listing(sandbox, number, limit="many")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 100


async def test_listing_takes_only_ascii_numbers_in_range(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    huge_cursor = base64.urlsafe_b64encode(b"9" * 30).decode()
    arabic_cursor = base64.urlsafe_b64encode("٣".encode()).decode()
    for params in (
        {"limit": "٣"},
        {"limit": "２"},
        {"limit": "9" * 30},
        {"limit": "+3"},
        {"after": huge_cursor},
        {"before": arabic_cursor},
    ):
        response = await listing(sandbox, number, **params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"]["code"] == 100


async def test_delete_by_name_removes_every_language(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    path = f"/v23.0/{number.waba_id}/message_templates"
    auth = bearer(number.access_token)
    await create(sandbox, number, ORDER_UPDATE)
    en = (await create(sandbox, number, {**ORDER_UPDATE, "language": "en_US"})).json()
    await create(sandbox, number, {**ORDER_UPDATE, "language": "ms"})

    one = await sandbox.client.delete(path, params={"name": "order_update", "hsm_id": en["id"]}, headers=auth)
    assert one.json() == {"success": True}
    assert {t["language"] for t in (await listing(sandbox, number, name="order_update")).json()["data"]} == {
        "id",
        "ms",
    }
    every = await sandbox.client.delete(path, params={"name": "order_update"}, headers=auth)
    assert every.status_code == 200 and every.json() == {"success": True}
    assert (await listing(sandbox, number, name="order_update")).json()["data"] == []

    unknown = await sandbox.client.delete(path, params={"name": "order_update"}, headers=auth)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == 100
    nameless = await sandbox.client.delete(path, headers=auth)
    assert nameless.status_code == 400 and nameless.json()["error"]["code"] == 100
    await sandbox.runtime.idle()


async def test_templates_of_another_waba_are_out_of_reach(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    other = await sandbox.provision()
    response = await sandbox.client.get(
        f"/v23.0/{other.waba_id}/message_templates", headers=bearer(number.access_token)
    )
    assert response.status_code == 400
    assert response.json()["error"]["error_subcode"] == 33
    created = await sandbox.client.post(
        f"/v23.0/{other.waba_id}/message_templates", json=ORDER_UPDATE, headers=bearer(number.access_token)
    )
    assert created.status_code == 400 and created.json()["error"]["code"] == 100


async def test_revoked_number_loses_its_token_and_templates(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    async with sandbox.database.transaction() as session:
        assert await revoke_number(session, number.phone_number_id) is True
        assert await revoke_number(session, number.phone_number_id) is False
    response = await listing(sandbox, number)
    assert response.status_code == 401 and response.json()["error"]["code"] == 190


async def test_listing_answers_only_the_requested_fields_and_metas_summary(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    assert (await create(sandbox, number, ORDER_UPDATE)).status_code == 200
    await sandbox.runtime.idle()

    chosen = (await listing(sandbox, number, fields="name,status,quality_score{score}")).json()
    assert [set(t) for t in chosen["data"]] == [{"name", "status", "id"}] * 2  # id always comes along

    summary = "total_count,message_template_count,message_template_limit,are_translations_complete"
    counted = (await listing(sandbox, number, status="APPROVED", name="order", summary=summary)).json()
    assert counted["summary"] == {
        "total_count": 1,
        "message_template_count": 2,
        "message_template_limit": 250,
        "are_translations_complete": True,
    }
    assert (await listing(sandbox, number, summary="true")).json()["summary"] == {"total_count": 2}
    assert "summary" not in (await listing(sandbox, number)).json()


async def test_a_listing_and_its_summary_are_read_together(sandbox: SandboxHarness) -> None:
    """Regression: the templates and the summary's count were two reads; a template created between
    them was counted and not listed."""
    number = await sandbox.provision()
    created = 0

    async def commit_one() -> None:
        nonlocal created
        created += 1
        async with sandbox.database.transaction() as other:
            body = {**ORDER_UPDATE, "name": f"order_update_{created}"}
            now = sandbox.runtime.now()
            await create_template(other, waba_id=number.waba_id, body=body, now=now, review_seconds=0)

    summary = {"summary": "total_count,message_template_count"}
    async with sandbox.database.transaction() as session:
        racing = cast(AsyncSession, CommitsBetweenStatements(session, commit_one))
        page = await list_templates(racing, waba_id=number.waba_id, params=summary, url=URL("/templates"))
    assert created and page["summary"]["total_count"] == page["summary"]["message_template_count"]
    assert page["summary"]["total_count"] == len(page["data"])


TEMPLATE_FIELDS = {
    "id": str,
    "name": str,
    "language": str,
    "status": str,
    "category": str,
    "components": list,
    "parameter_format": str,
}
"""What Meta returns for every template, and its type (clients such as pywa index each one)."""


async def test_listed_templates_carry_every_field_meta_always_returns(sandbox: SandboxHarness) -> None:
    number = await sandbox.provision()
    named = {
        "name": "named_vars",
        "language": "en_US",
        "category": "MARKETING",
        "parameter_format": "NAMED",
        "components": [{"type": "BODY", "text": "Hi {{first_name}}"}],
        "sub_category": None,
        "future_field": {"x": 1},
    }
    assert (await create(sandbox, number, named)).status_code == 200
    listed = {t["name"]: t for t in (await listing(sandbox, number)).json()["data"]}
    for template in listed.values():
        assert {field: type(template.get(field)) for field in TEMPLATE_FIELDS} == TEMPLATE_FIELDS, template
    assert listed["named_vars"]["parameter_format"] == "NAMED"
    assert listed["hello_world"]["parameter_format"] == "POSITIONAL"
    await sandbox.runtime.idle()
