"""Webhook targets, routing rules, the rule tester and secret rotation through the real app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from kirem.app import create_app
from kirem.config import Settings
from kirem.db.base import utcnow
from kirem.db.migrate import upgrade_async
from kirem.delivery.secret import rotate_webhook_secret, signing_secrets
from kirem.routing.cli import rules_app, targets_app
from kirem.routing.models import WebhookTarget
from kirem.routing.routes import router
from kirem.tenancy.bootstrap import bootstrap
from kirem.tenancy.models import Project
from kirem.tenancy.service import webhook_secret


@dataclass
class Caller:
    http: httpx.AsyncClient
    boot: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.boot['api_key']}"}

    async def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return await self.http.post(f"/v1/webhooks{path}", json=body, headers={**self.headers, **headers})

    async def patch(self, path: str, body: Any) -> httpx.Response:
        return await self.http.patch(f"/v1/webhooks{path}", json=body, headers=self.headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(f"/v1/webhooks{path}", headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.http.delete(f"/v1/webhooks{path}", headers=self.headers)

    async def target(self, url: str = "https://hooks.example.com/kirem", **fields: Any) -> dict[str, Any]:
        response = await self.post("/targets", {"url": url, **fields})
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    async def rule(self, name: str, target_ids: list[str], **fields: Any) -> dict[str, Any]:
        response = await self.post("/rules", {"name": name, "target_ids": target_ids, **fields})
        assert response.status_code == 201, response.text
        return response.json()["data"]  # type: ignore[no-any-return]


@dataclass
class World:
    app: Any
    http: httpx.AsyncClient

    async def caller(self, account: str, plan: str, project: str = "main") -> Caller:
        boot = await bootstrap(self.app.state.ctx, account, project, plan)
        return Caller(self.http, boot)

    async def project(self, caller: Caller) -> Project:
        async with self.app.state.ctx.db.session() as session:
            return (
                await session.execute(select(Project).where(Project.id == caller.boot["project_id"]))
            ).scalar_one()


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    await upgrade_async(settings)
    app = create_app(settings)
    if not any(getattr(route, "path", "") == "/v1/webhooks/targets" for route in app.routes):
        app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kirem") as http:
        yield World(app, http)
    await app.state.ctx.aclose()


# Targets -------------------------------------------------------------------------------------


async def test_target_crud(world: World) -> None:
    me = await world.caller("acme", "growth")
    created = await me.post("/targets", {"url": "https://hooks.example.com/kirem", "description": "CRM"})
    assert created.status_code == 201, created.text
    assert created.json()["message"] == "Webhook target created successfully"
    target = created.json()["data"]
    assert target["id"].startswith("tgt_")
    assert {k: target[k] for k in target if k not in ("id", "created_at", "updated_at")} == {
        "url": "https://hooks.example.com/kirem",
        "description": "CRM",
        "payload_format": "kirem",
        "events": [],
        "enabled": True,
        "headers": {},
        "timeout_seconds": 10.0,
        "max_attempts": 8,
        "retry_schedule": None,
        "disabled_reason": None,
        "disabled_at": None,
        "failing_since": None,
    }
    assert target["created_at"].endswith("Z")

    listed = await me.get("/targets")
    assert listed.status_code == 200 and [t["id"] for t in listed.json()["data"]] == [target["id"]]
    one = await me.get(f"/targets/{target['id']}")
    assert one.status_code == 200 and one.json()["data"] == target

    changed = await me.patch(
        f"/targets/{target['id']}",
        {
            "payload_format": "meta",
            "events": ["messages.received", "messages.status", "messages.received"],
            "headers": {"Authorization": "Bearer abc", "X-Tenant": "42"},
            "timeout_seconds": 2.5,
            "max_attempts": 3,
            "retry_schedule": [0, 10, 60],
            "description": None,
        },
    )
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["payload_format"] == "meta"
    assert data["events"] == ["messages.received", "messages.status"]
    assert data["headers"] == {"Authorization": "****", "X-Tenant": "****"}
    assert (data["timeout_seconds"], data["max_attempts"], data["retry_schedule"]) == (2.5, 3, [0, 10, 60])
    assert data["description"] == ""
    reset = await me.patch(f"/targets/{target['id']}", {"events": None, "retry_schedule": None})
    assert reset.json()["data"]["events"] == [] and reset.json()["data"]["retry_schedule"] is None

    deleted = await me.delete(f"/targets/{target['id']}")
    assert deleted.status_code == 200 and deleted.json()["data"] == {"success": True}
    assert (await me.get(f"/targets/{target['id']}")).status_code == 404
    assert (await me.get("/targets")).json()["data"] == []


async def test_target_validation_reports_every_field_and_stores_nothing(world: World) -> None:
    me = await world.caller("acme", "growth")
    bad = {
        "url": "ftp://files.example.com/drop",
        "description": "x" * 501,
        "payload_format": "xml",
        "events": ["messages.received", "messages.deleted"],
        "enabled": "yes",
        "headers": {
            "Content-Type": "text/plain",
            "X-Kirem-Signature": "forged",
            "webhook-id": "1",
            "X-Hub-Signature-256": "sha256=0",
            "bad name": "v",
            "X-Number": 5,
            "X-Split": "a\r\nInjected: 1",
            "X-Long": "v" * 1001,
            "X-Fine": "ok",
        },
        "timeout_seconds": 0,
        "max_attempts": 21,
        "retry_schedule": "soon",
        "name": "CRM",
    }
    response = await me.post("/targets", bad)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert set(errors) == {
        "url",
        "description",
        "payload_format",
        "events[1]",
        "enabled",
        "headers.Content-Type",
        "headers.X-Kirem-Signature",
        "headers.webhook-id",
        "headers.X-Hub-Signature-256",
        "headers.bad name",
        "headers.X-Number",
        "headers.X-Split",
        "headers.X-Long",
        "timeout_seconds",
        "max_attempts",
        "retry_schedule",
        "name",
    }
    assert "http" in errors["url"] and "reserved" in errors["headers.Content-Type"]
    assert (await me.get("/targets")).json()["data"] == []

    for body, key in [
        ({}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://u:p@hooks.example.com/"}, "url"),
        ({"url": "https://hooks.example.com/", "headers": {f"X-H{i}": "v" for i in range(21)}}, "headers"),
        ({"url": "https://hooks.example.com/", "headers": {"x-a": "1", "X-A": "2"}}, "headers.X-A"),
        ({"url": "https://hooks.example.com/", "headers": {"user-agent": "me"}}, "headers.user-agent"),
        ({"url": "https://hooks.example.com/", "timeout_seconds": 31}, "timeout_seconds"),
        ({"url": "https://hooks.example.com/", "timeout_seconds": True}, "timeout_seconds"),
        ({"url": "https://hooks.example.com/", "max_attempts": 2.5}, "max_attempts"),
        ({"url": "https://hooks.example.com/", "retry_schedule": [0, -1]}, "retry_schedule"),
        ({"url": "https://hooks.example.com/", "events": "messages.received"}, "events"),
    ]:
        answer = await me.post("/targets", body)
        assert answer.status_code == 400, (body, answer.text)
        assert key in answer.json()["errors"], (body, answer.json())
    assert (await me.get("/targets")).json()["data"] == []

    target = await me.target()
    refused = await me.patch(f"/targets/{target['id']}", {"url": "gopher://x", "max_attempts": 0})
    assert refused.status_code == 400 and set(refused.json()["errors"]) == {"url", "max_attempts"}
    assert (await me.get(f"/targets/{target['id']}")).json()["data"] == target
    not_object = await me.http.post("/v1/webhooks/targets", json=["x"], headers=me.headers)
    assert not_object.status_code == 400 and not_object.json()["errors"] == {"body": "must be a JSON object"}


async def test_internal_urls_are_refused_in_production(world: World) -> None:
    me = await world.caller("acme", "growth")
    world.app.state.ctx.settings.env = "production"
    for url in ("http://127.0.0.1:8000/hook", "http://169.254.169.254/latest", "http://[::1]/"):
        response = await me.post("/targets", {"url": url})
        assert response.status_code == 400 and "not a public address" in response.json()["errors"]["url"]
    assert (await me.post("/targets", {"url": "https://93.184.216.34/hook"})).status_code == 201
    world.app.state.ctx.settings.env = "development"
    assert (await me.post("/targets", {"url": "http://127.0.0.1:8000/hook"})).status_code == 201


async def test_reenabling_a_target_clears_why_it_was_disabled(world: World) -> None:
    me = await world.caller("acme", "growth")
    target = await me.target()
    off = (await me.patch(f"/targets/{target['id']}", {"enabled": False})).json()["data"]
    assert off["enabled"] is False and off["disabled_reason"] == "disabled by the user" and off["disabled_at"]

    now = utcnow()
    async with world.app.state.ctx.db.transaction() as session:
        row = await session.get(WebhookTarget, target["id"])
        assert row is not None
        row.disabled_reason = "failing for 5 days"
        row.disabled_at = now
        row.failing_since = now - timedelta(days=5)
    on = (await me.patch(f"/targets/{target['id']}", {"enabled": True})).json()["data"]
    assert on["enabled"] is True
    assert (on["disabled_reason"], on["disabled_at"], on["failing_since"]) == (None, None, None)


async def test_idempotent_target_creation(world: World) -> None:
    me = await world.caller("acme", "growth")
    body = {"url": "https://hooks.example.com/once"}
    first = await me.post("/targets", body, **{"Idempotency-Key": "create-1"})
    again = await me.post("/targets", body, **{"Idempotency-Key": "create-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == first.json()
    assert len((await me.get("/targets")).json()["data"]) == 1


# Plan limits ---------------------------------------------------------------------------------


async def test_developer_plan_has_one_target_and_no_rules(world: World) -> None:
    me = await world.caller("solo", "developer")
    target = await me.target()
    second = await me.post("/targets", {"url": "https://hooks.example.com/two"})
    assert second.status_code == 403
    assert "growth" in second.json()["message"] and second.json()["errors"] == {"plan": "growth"}
    rule = await me.post("/rules", {"name": "any", "target_ids": [target["id"]]})
    assert rule.status_code == 403
    assert "growth" in rule.json()["message"] and rule.json()["errors"] == {"plan": "growth"}
    assert (await me.get("/rules")).json()["data"] == []
    # the rule tester is there on every plan
    tested = await me.post("/rules/test", {"event": {"type": "messages.received", "text": "halo"}})
    assert tested.status_code == 200, tested.text
    assert tested.json()["data"]["targets"][0]["selected"] is True


async def test_growth_plan_has_five_targets_and_five_rules(world: World) -> None:
    me = await world.caller("shop", "growth")
    ids = [(await me.target(f"https://hooks.example.com/{i}"))["id"] for i in range(5)]
    sixth = await me.post("/targets", {"url": "https://hooks.example.com/6"})
    assert sixth.status_code == 403 and sixth.json()["errors"] == {"plan": "scale"}
    assert "growth plan allows 5 webhook target(s)" in sixth.json()["message"]
    for i in range(5):
        await me.rule(f"rule {i}", [ids[i]])
    sixth_rule = await me.post("/rules", {"name": "six", "target_ids": [ids[0]]})
    assert sixth_rule.status_code == 403 and sixth_rule.json()["errors"] == {"plan": "scale"}
    assert "scale" in sixth_rule.json()["message"]
    await world.caller("shop", "scale")  # upgrading lifts both limits at once
    assert (await me.post("/targets", {"url": "https://hooks.example.com/6"})).status_code == 201
    assert (await me.post("/rules", {"name": "six", "target_ids": [ids[0]]})).status_code == 201


# Tenant isolation ----------------------------------------------------------------------------


async def test_foreign_ids_are_not_found(world: World) -> None:
    owner = await world.caller("alpha", "growth")
    other = await world.caller("beta", "growth")
    target = await owner.target()
    rule = await owner.rule("mine", [target["id"]])
    for path in (f"/targets/{target['id']}", f"/rules/{rule['id']}"):
        assert (await other.get(path)).status_code == 404
        assert (await other.patch(path, {"enabled": False})).status_code == 404
        assert (await other.delete(path)).status_code == 404
    missing = await other.get("/targets/tgt_nope")
    assert missing.json()["message"] == "Webhook target not found"
    assert (await other.get("/targets")).json()["data"] == []
    assert (await other.get("/rules")).json()["data"] == []
    borrowed = await other.post("/rules", {"name": "steal", "target_ids": [target["id"]]})
    assert borrowed.status_code == 400 and borrowed.json()["errors"] == {"target_ids[0]": "unknown target"}
    # nothing of the owner's changed
    assert (await owner.get(f"/targets/{target['id']}")).json()["data"] == target
    assert (await owner.get(f"/rules/{rule['id']}")).json()["data"] == rule


# Rules ---------------------------------------------------------------------------------------


async def test_rule_crud_and_validation(world: World) -> None:
    me = await world.caller("acme", "growth")
    a, b = (
        (await me.target("https://a.example.com/"))["id"],
        (await me.target("https://b.example.com/"))["id"],
    )
    created = await me.post(
        "/rules",
        {
            "name": "  Sales  ",
            "conditions": {"message_types": ["text"], "keywords": ["harga", "promo"], "regex": "(?i)^order"},
            "target_ids": [a, a],
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["message"] == "Routing rule created successfully"
    rule = created.json()["data"]
    assert rule["id"].startswith("rul_") and rule["name"] == "Sales" and rule["enabled"] is True
    assert rule["target_ids"] == [a]
    assert rule["conditions"] == {
        "message_types": ["text"],
        "keywords": ["harga", "promo"],
        "regex": "(?i)^order",
    }
    assert (await me.get(f"/rules/{rule['id']}")).json()["data"] == rule

    changed = await me.patch(
        f"/rules/{rule['id']}", {"enabled": False, "target_ids": [b, a], "conditions": {}}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["target_ids"] == [b, a] and changed.json()["data"]["conditions"] == {}
    assert changed.json()["data"]["enabled"] is False

    bad = await me.post(
        "/rules",
        {
            "name": "",
            "enabled": 1,
            "conditions": {"regex": "(a", "senders": ["abc"], "colour": ["red"]},
            "target_ids": [a, "tgt_unknown", 7],
        },
    )
    assert bad.status_code == 400
    errors = bad.json()["errors"]
    assert set(errors) == {
        "name",
        "enabled",
        "conditions.regex",
        "conditions.senders[0]",
        "conditions.colour",
        "target_ids[1]",
        "target_ids[2]",
    }
    assert errors["target_ids[1]"] == "unknown target"
    for body, key in [
        ({"name": "x"}, "target_ids"),
        ({"name": "x", "target_ids": []}, "target_ids"),
        ({"name": "x", "target_ids": [a], "conditions": {"regex": "(?<=x)y"}}, "conditions.regex"),
        ({"name": "x" * 201, "target_ids": [a]}, "name"),
        ({"name": "x", "target_ids": [a], "conditions": "all"}, "conditions"),
    ]:
        answer = await me.post("/rules", body)
        assert answer.status_code == 400 and key in answer.json()["errors"], (body, answer.text)
    patched = await me.patch(f"/rules/{rule['id']}", {"conditions": {"regex": "[z-a]"}, "target_ids": ["x"]})
    assert set(patched.json()["errors"]) == {"conditions.regex", "target_ids[0]"}
    assert [r["id"] for r in (await me.get("/rules")).json()["data"]] == [rule["id"]]

    deleted = await me.delete(f"/rules/{rule['id']}")
    assert deleted.status_code == 200 and deleted.json()["data"] == {"success": True}
    assert (await me.get(f"/rules/{rule['id']}")).status_code == 404


async def test_deleting_a_target_takes_it_out_of_every_rule(world: World) -> None:
    me = await world.caller("acme", "growth")
    a, b = (
        (await me.target("https://a.example.com/"))["id"],
        (await me.target("https://b.example.com/"))["id"],
    )
    both = await me.rule("both", [a, b])
    only_a = await me.rule("only a", [a])
    assert (await me.delete(f"/targets/{a}")).status_code == 200
    assert (await me.get(f"/rules/{both['id']}")).json()["data"]["target_ids"] == [b]
    orphan = (await me.get(f"/rules/{only_a['id']}")).json()["data"]
    assert orphan["target_ids"] == []
    tested = await me.post("/rules/test", {"event": {"text": "halo"}})
    assert [(t["target_id"], t["selected"]) for t in tested.json()["data"]["targets"]] == [(b, True)]


# The rule tester -----------------------------------------------------------------------------


async def test_rule_tester_explains_who_gets_an_event(world: World) -> None:
    me = await world.caller("acme", "growth")
    everything = await me.target("https://all.example.com/")
    sales = await me.target("https://sales.example.com/")
    statuses = await me.target("https://status.example.com/", events=["messages.status"])
    price = await me.rule("price questions", [sales["id"]], conditions={"keywords": ["harga"]})
    buttons = await me.rule(
        "yes button", [sales["id"]], conditions={"message_types": ["interactive"], "regex": "^btn_yes$"}
    )

    answer = await me.post(
        "/rules/test",
        {
            "event": {
                "event": "messages.received",
                "data": {
                    "from": "62812345678",
                    "message_id": "wamid.HBgLN",
                    "type": "interactive",
                    "interactive": {
                        "type": "button_reply",
                        "button_reply": {"id": "btn_yes", "title": "Ya, bersedia"},
                    },
                    "phone_number_id": me.boot["phone_number_id"],
                },
            }
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["message"] == "Routing test completed successfully"
    data = answer.json()["data"]
    assert data["facts"] == {
        "type": "messages.received",
        "message_type": "interactive",
        "sender": "62812345678",
        "texts": ["Ya, bersedia", "btn_yes"],
        "channel_id": me.boot["channel_id"],
        "voice": False,
        "sender_user_ids": [],
    }
    by_id = {t["target_id"]: t for t in data["targets"]}
    assert [t["target_id"] for t in data["targets"]] == [everything["id"], sales["id"], statuses["id"]]
    assert by_id[everything["id"]]["selected"] is True and by_id[everything["id"]]["rule_ids"] == []
    assert by_id[everything["id"]]["url"] == "https://all.example.com/"
    assert "no enabled rule" in by_id[everything["id"]]["reason"]
    assert by_id[sales["id"]]["selected"] is True and by_id[sales["id"]]["rule_ids"] == [buttons["id"]]
    assert "yes button" in by_id[sales["id"]]["reason"]
    assert by_id[statuses["id"]]["selected"] is False
    assert "not subscribed" in by_id[statuses["id"]]["reason"]

    short = await me.post(
        "/rules/test",
        {"event": {"type": "messages.received", "from": "628111", "text": "Halo, berapa HARGA?"}},
    )
    sales_answer = {t["target_id"]: t for t in short.json()["data"]["targets"]}[sales["id"]]
    assert sales_answer["selected"] is True and sales_answer["rule_ids"] == [price["id"]]
    assert short.json()["data"]["facts"]["message_type"] == "text"

    miss = await me.post("/rules/test", {"event": {"message_type": "image", "text": "foto produk"}})
    sales_answer = {t["target_id"]: t for t in miss.json()["data"]["targets"]}[sales["id"]]
    assert sales_answer["selected"] is False
    assert set(sales_answer["rule_ids"]) == {price["id"], buttons["id"]}
    assert "price questions" in sales_answer["reason"] and "keywords" in sales_answer["reason"]

    status = await me.post(
        "/rules/test",
        {"event": {"event": "messages.status", "data": {"status": "read", "recipient_id": "628111"}}},
    )
    selected = [t["target_id"] for t in status.json()["data"]["targets"] if t["selected"]]
    assert selected == [everything["id"], statuses["id"]]
    assert status.json()["data"]["facts"]["sender"] == "628111"

    bare = await me.post(
        "/rules/test",
        {"event": "messages.received", "data": {"type": "text", "text": {"body": "harga?"}, "from": "62"}},
    )
    assert bare.status_code == 200 and bare.json()["data"]["facts"]["texts"] == ["harga?"]

    for body, key in [
        ({}, "event"),
        ({"event": "messages.received"}, "event"),
        ({"event": {"event": "messages.deleted", "data": {}}}, "event.event"),
        ({"event": {"event": "messages.received", "data": []}}, "event.data"),
        ({"event": {"type": "nope"}}, "event.type"),
        ({"event": {"text": 5}}, "event.text"),
    ]:
        refused = await me.post("/rules/test", body)
        assert refused.status_code == 400 and key in refused.json()["errors"], (body, refused.text)


async def test_rule_tester_takes_the_documented_short_form_as_the_body(world: World) -> None:
    """routing.md shows the short form as the whole body, not wrapped in {"event": …}."""
    me = await world.caller("acme", "growth")
    sales = await me.target("https://sales.example.com/")
    price = await me.rule("price questions", [sales["id"]], conditions={"keywords": ["harga"]})
    body = {"type": "messages.received", "message_type": "text", "from": "628111", "text": "Berapa harga?"}
    answer = await me.post("/rules/test", body)
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["facts"]["sender"] == "628111" and data["facts"]["texts"] == ["Berapa harga?"]
    assert data["targets"][0]["selected"] is True and data["targets"][0]["rule_ids"] == [price["id"]]
    wrapped = await me.post("/rules/test", {"event": body})
    assert wrapped.json()["data"] == data

    typo = await me.post("/rules/test", {"type": "messages.received", "form": "628111"})
    assert typo.status_code == 400 and set(typo.json()["errors"]) == {"form"}, typo.text
    wrapped_typo = await me.post("/rules/test", {"event": {"text": "halo", "txet": "halo"}})
    assert wrapped_typo.status_code == 400 and set(wrapped_typo.json()["errors"]) == {"event.txet"}
    bad_text = await me.post("/rules/test", {"from": "628111", "text": 5})
    assert bad_text.status_code == 400 and set(bad_text.json()["errors"]) == {"text"}, bad_text.text


# Secret rotation -----------------------------------------------------------------------------


async def test_secret_rotation_signs_with_both_for_a_day(world: World) -> None:
    me = await world.caller("acme", "developer")
    old = me.boot["webhook_secret"]
    before = utcnow()
    response = await me.post("/secret/rotate", None)
    assert response.status_code == 200, response.text
    assert response.json()["message"] == "Webhook secret rotated successfully"
    data = response.json()["data"]
    new = data["webhook_secret"]
    assert new.startswith("whsec_") and new != old
    project = await world.project(me)
    sealer = world.app.state.ctx.sealer
    assert webhook_secret(sealer, project) == new
    expires = project.previous_secret_expires_at
    assert expires is not None and timedelta(hours=23, minutes=59) < expires - before <= timedelta(
        hours=24, seconds=5
    )
    assert data["previous_secret_expires_at"] == expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert signing_secrets(sealer, project, before + timedelta(hours=1)) == [new, old]
    assert signing_secrets(sealer, project, before + timedelta(hours=25)) == [new]

    # a second rotation with an injected clock: the newest two sign, the oldest is gone
    now = before + timedelta(hours=2)
    async with world.app.state.ctx.db.transaction() as session:
        row = await session.get(Project, project.id)
        assert row is not None
        newest = await rotate_webhook_secret(session, sealer, row, now)
    project = await world.project(me)
    assert project.previous_secret_expires_at == now + timedelta(hours=24)
    assert signing_secrets(sealer, project, now + timedelta(hours=23, minutes=59)) == [newest, new]
    assert signing_secrets(sealer, project, now + timedelta(hours=24)) == [newest]


# CLI -----------------------------------------------------------------------------------------


def test_cli_manages_targets_and_rules(tmp_path: Path, encryption_key: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from kirem.cli import app as kirem_app

    monkeypatch.setenv("KIREM_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("KIREM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KIREM_ENCRYPTION_KEY", encryption_key)
    cli = typer.Typer()
    cli.add_typer(targets_app, name="targets")
    cli.add_typer(rules_app, name="rules")
    runner = CliRunner()

    def run(*args: str, app: typer.Typer = cli) -> Any:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.output) if "--json" in args else result.output

    run("bootstrap", "--account", "cli-co", "--project", "main", "--plan", "growth", "--json", app=kirem_app)
    target = run(
        "targets", "create", "cli-co", "main", "https://hooks.example.com/cli",
        "--event", "messages.received", "--header", "Authorization: Bearer t", "--json",
    )  # fmt: skip
    assert target["events"] == ["messages.received"] and target["headers"] == {"Authorization": "****"}
    assert run("targets", "disable", "cli-co", "main", target["id"], "--json")["enabled"] is False
    assert run("targets", "enable", "cli-co", "main", target["id"], "--json")["disabled_reason"] is None
    updated = run(
        "targets", "update", "cli-co", "main", target["id"], "--all-events", "--timeout", "5", "--json"
    )
    assert updated["events"] == [] and updated["timeout_seconds"] == 5.0
    rule = run(
        "rules", "create", "cli-co", "main", "greetings", "--target", target["id"],
        "--conditions", '{"keywords": ["halo"]}', "--json",
    )  # fmt: skip
    assert rule["conditions"] == {"keywords": ["halo"]}
    assert [r["id"] for r in run("rules", "list", "cli-co", "main", "--json")] == [rule["id"]]
    tested = run("rules", "test", "cli-co", "main", "--text", "Halo kak", "--json")
    assert tested["targets"][0]["selected"] is True and tested["targets"][0]["rule_ids"] == [rule["id"]]
    assert "greetings" in run("rules", "test", "cli-co", "main", "--text", "bye")
    assert "hooks.example.com" in run("targets", "list", "cli-co", "main")

    bad = runner.invoke(cli, ["rules", "create", "cli-co", "main", "x", "--target", "tgt_nope"])
    assert bad.exit_code == 1 and "unknown target" in bad.output
    run("rules", "delete", "cli-co", "main", rule["id"])
    run("targets", "delete", "cli-co", "main", target["id"])
    assert run("targets", "list", "cli-co", "main", "--json") == []
