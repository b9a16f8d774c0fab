"""Custom target headers are credentials: sealed at rest, masked in every answer, sent whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import select

from kirem.app import create_app
from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.crypto import Sealer
from kirem.db.base import UTCDateTime, utcnow
from kirem.db.engine import create_engine
from kirem.db.migrate import alembic_config, upgrade_async
from kirem.delivery.enqueue import fan_out
from kirem.delivery.sender import AttemptResult
from kirem.delivery.worker import DeliveryWorker
from kirem.inbound.events import record_event
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import HEADER_MASK, open_headers
from kirem.tenancy.bootstrap import bootstrap

SECRET = "Bearer s3cr3t-credential-value"


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[tuple[Any, httpx.AsyncClient, dict[str, str]]]:
    await upgrade_async(settings)
    app = create_app(settings)
    boot = await bootstrap(app.state.ctx, "hdr-co", "main", "growth")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://kirem") as http:
        yield app, http, {"Authorization": f"Bearer {boot['api_key']}"}
    await app.state.ctx.aclose()


async def _stored(app: Any, target_id: str) -> WebhookTarget:
    async with app.state.ctx.db.session() as session:
        return (
            await session.execute(select(WebhookTarget).where(WebhookTarget.id == target_id))
        ).scalar_one()


async def test_headers_are_sealed_and_masked_in_every_answer(api: Any) -> None:
    app, http, auth = api
    body = {"url": "https://hooks.example.com/h", "headers": {"Authorization": SECRET, "X-Tenant": "42"}}
    created = await http.post("/v1/webhooks/targets", json=body, headers={**auth, "Idempotency-Key": "k1"})
    assert created.status_code == 201, created.text
    target = created.json()["data"]
    masked = {"Authorization": HEADER_MASK, "X-Tenant": HEADER_MASK}
    assert target["headers"] == masked
    replayed = await http.post("/v1/webhooks/targets", json=body, headers={**auth, "Idempotency-Key": "k1"})
    listed = await http.get("/v1/webhooks/targets", headers=auth)
    one = await http.get(f"/v1/webhooks/targets/{target['id']}", headers=auth)
    for answer in (created, replayed, listed, one):
        assert "s3cr3t" not in answer.text
    assert one.json()["data"]["headers"] == masked

    row = await _stored(app, target["id"])
    assert row.headers_sealed is not None and "s3cr3t" not in row.headers_sealed
    assert open_headers(app.state.ctx.sealer, row) == {"Authorization": SECRET, "X-Tenant": "42"}


async def test_update_keeps_masked_values_and_replaces_the_others(api: Any) -> None:
    app, http, auth = api
    body = {"url": "https://hooks.example.com/h", "headers": {"Authorization": SECRET, "X-Tenant": "42"}}
    target = (await http.post("/v1/webhooks/targets", json=body, headers=auth)).json()["data"]
    path = f"/v1/webhooks/targets/{target['id']}"

    # what a GET answered, written back with one value changed: the masked one is kept
    changed = await http.patch(path, json={"headers": {**target["headers"], "X-Tenant": "43"}}, headers=auth)
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["headers"] == {"Authorization": HEADER_MASK, "X-Tenant": HEADER_MASK}
    assert open_headers(app.state.ctx.sealer, await _stored(app, target["id"])) == {
        "Authorization": SECRET,
        "X-Tenant": "43",
    }

    # a name left out is removed; the mask keeps a value whatever the name's case
    kept = await http.patch(path, json={"headers": {"authorization": HEADER_MASK}}, headers=auth)
    assert kept.status_code == 200, kept.text
    assert open_headers(app.state.ctx.sealer, await _stored(app, target["id"])) == {"authorization": SECRET}

    # other fields leave the headers alone
    await http.patch(path, json={"description": "CRM"}, headers=auth)
    assert open_headers(app.state.ctx.sealer, await _stored(app, target["id"])) == {"authorization": SECRET}

    unknown = await http.patch(path, json={"headers": {"X-New": HEADER_MASK}}, headers=auth)
    assert unknown.status_code == 400 and "no header 'X-New'" in unknown.json()["errors"]["headers.X-New"]
    fresh = await http.post(
        "/v1/webhooks/targets",
        json={"url": "https://hooks.example.com/x", "headers": {"A": HEADER_MASK}},
        headers=auth,
    )
    assert fresh.status_code == 400 and "headers.A" in fresh.json()["errors"]

    cleared = await http.patch(path, json={"headers": None}, headers=auth)
    assert cleared.json()["data"]["headers"] == {}
    assert (await _stored(app, target["id"])).headers_sealed is None


async def test_the_worker_sends_the_real_values(settings: Settings) -> None:
    await upgrade_async(settings)
    ctx = context_for(settings)
    sent: list[dict[str, str]] = []

    class Sender:
        async def send(self, url: str, body: bytes, headers: Any, timeout: float) -> AttemptResult:
            sent.append(dict(headers))
            return AttemptResult(200, 1, True, None, "", None, False)

        async def aclose(self) -> None:
            return None

    try:
        boot = await bootstrap(ctx, "send-co", "main", "growth")
        app = create_app(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://k") as http:
            created = await http.post(
                "/v1/webhooks/targets",
                json={"url": "http://127.0.0.1:9/hook", "headers": {"Authorization": SECRET}},
                headers={"Authorization": f"Bearer {boot['api_key']}"},
            )
            assert created.status_code == 201, created.text
        await app.state.ctx.aclose()
        async with ctx.db.transaction() as session:
            event = await record_event(
                session,
                project_id=boot["project_id"],
                type="messages.received",
                dedup_key="msg:headers",
                data={"from": "62812345678", "type": "text", "text": {"body": "halo"}},
                facts={"message_type": "text", "sender": "62812345678", "texts": ["halo"]},
                now=utcnow(),
            )
            assert event is not None
            await fan_out(session, event)
        worker = DeliveryWorker(ctx, Sender())
        await worker.run_once()
        await worker.drain()
    finally:
        await ctx.aclose()
    assert [h["Authorization"] for h in sent] == [SECRET]


def _old_tables() -> tuple[sa.TableClause, ...]:
    """The three tables as revision 0004 left them (only the columns without a default)."""

    def when(name: str = "created_at") -> sa.ColumnClause[Any]:
        return sa.column(name, UTCDateTime(timezone=True))

    accounts = sa.table(
        "accounts",
        sa.column("id"),
        sa.column("name"),
        sa.column("plan"),
        sa.column("limit_overrides", sa.JSON),
        when(),
    )
    projects = sa.table(
        "projects",
        sa.column("id"),
        sa.column("account_id"),
        sa.column("name"),
        sa.column("webhook_secret_sealed"),
        sa.column("ip_allowlist", sa.JSON),
        when(),
    )
    targets = sa.table(
        "webhook_targets",
        *(sa.column(name) for name in ("id", "project_id", "url", "description", "payload_format")),
        sa.column("events", sa.JSON),
        sa.column("enabled", sa.Boolean),
        sa.column("headers", sa.JSON),
        sa.column("timeout_seconds", sa.Float),
        sa.column("max_attempts", sa.Integer),
        when(),
        when("updated_at"),
    )
    return accounts, projects, targets


async def test_migration_seals_existing_plaintext_headers(settings: Settings) -> None:
    """0004 stored headers as plain JSON; upgrading seals them and drops the plaintext column."""
    await upgrade_async(settings, "0004")
    accounts, projects, targets = _old_tables()
    now = utcnow()
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                accounts.insert().values(
                    id="acc_1", name="old", plan="growth", limit_overrides={}, created_at=now
                )
            )
            await conn.execute(
                projects.insert().values(
                    id="prj_1",
                    account_id="acc_1",
                    name="main",
                    webhook_secret_sealed="x",
                    ip_allowlist=[],
                    created_at=now,
                )
            )
            for target_id, headers in (("tgt_1", {"Authorization": "Bearer old-secret"}), ("tgt_2", {})):
                await conn.execute(
                    targets.insert().values(
                        id=target_id,
                        project_id="prj_1",
                        url="https://hooks.example.com/",
                        description="",
                        payload_format="kirem",
                        events=[],
                        enabled=True,
                        headers=headers,
                        timeout_seconds=10.0,
                        max_attempts=8,
                        created_at=now,
                        updated_at=now,
                    )
                )
        await upgrade_async(settings)
        async with engine.connect() as conn:
            columns = await conn.run_sync(
                lambda sync: [c["name"] for c in sa.inspect(sync).get_columns("webhook_targets")]
            )
            rows = dict((await conn.execute(sa.text("SELECT id, headers_sealed FROM webhook_targets"))).all())
        assert "headers" not in columns
        assert rows["tgt_2"] is None and "old-secret" not in rows["tgt_1"]
        sealer = Sealer.from_settings(settings)
        target = WebhookTarget(id="tgt_1", project_id="prj_1", headers_sealed=rows["tgt_1"])
        assert open_headers(sealer, target) == {"Authorization": "Bearer old-secret"}

        await asyncio.to_thread(command.downgrade, alembic_config(settings), "0004")
        async with engine.connect() as conn:
            back = dict((await conn.execute(sa.select(targets.c.id, targets.c.headers))).all())
        assert back == {"tgt_1": {"Authorization": "Bearer old-secret"}, "tgt_2": {}}
    finally:
        await engine.dispose()
