"""Plan changes on a real database: a downgrade disables what is over the limits, an upgrade re-enables it."""

from __future__ import annotations

from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, select

from kirem.api.responses import ApiError
from kirem.cli_support import context_for
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.inbound.events import record_event
from kirem.inbound.models import Event, RawEvent
from kirem.messaging.models import MessageLog
from kirem.pipeline import processor
from kirem.plan_changes import change_plan
from kirem.retention import purge_expired
from kirem.routing import rules, targets
from kirem.routing.models import RoutingRule, WebhookTarget
from kirem.tenancy import service
from kirem.tenancy.models import Account, Channel, Project
from kirem.tenancy.service import tenant_for_project


async def _scale_account(ctx, session):  # type: ignore[no-untyped-def]
    """A scale account with 2 projects, 2 channels, 3 targets and 2 rules in its first project."""
    account = await service.create_account(session, "agency", "scale")
    first = await service.create_project(session, ctx.sealer, account, "first")
    second = await service.create_project(session, ctx.sealer, account, "second")
    for project, number in ((first, "1001"), (second, "1002")):
        await service.add_channel(
            session,
            ctx.sealer,
            project,
            kind="sandbox",
            phone_number_id=number,
            waba_id="9",
            access_token="t",
        )
    tenant = await tenant_for_project(session, first)
    made = [
        await targets.create_target(
            session, tenant, {"url": f"http://127.0.0.1:9/{i}"}, sealer=ctx.sealer, production=False
        )
        for i in range(3)
    ]
    for i in range(2):
        await rules.create_rule(
            session, tenant, {"name": f"r{i}", "conditions": {"keywords": ["x"]}, "target_ids": [made[0].id]}
        )
    return account, first, second, made


async def test_downgrade_disables_with_reasons_and_upgrade_restores(database: Database, settings) -> None:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account, first, second, made = await _scale_account(ctx, session)
        await targets.set_target_enabled(session, await tenant_for_project(session, first), made[2].id, False)
    async with ctx.db.transaction() as session:
        account = await session.get(Account, account.id)
        changes = await change_plan(session, account, plan="developer")
    assert changes["projects"] == {"disabled": [second.id], "enabled": []}
    assert len(changes["channels"]["disabled"]) == 1
    assert changes["targets"] == {"disabled": [made[1].id], "enabled": []}  # the user-disabled one is left
    assert len(changes["rules"]["disabled"]) == 2

    async with ctx.db.session() as session:
        project = await session.get(Project, second.id)
        assert project.disabled_reason.startswith("Over the developer plan's limit of 1 project(s)")
        channels = {c.project_id: c for c in (await session.execute(select(Channel))).scalars()}
        assert channels[first.id].status == "active"
        assert channels[second.id].status == "disabled" and channels[second.id].disabled_by_plan
        assert channels[second.id].disabled_reason.startswith("Its project is disabled")
        by_id = {t.id: t for t in (await session.execute(select(WebhookTarget))).scalars()}
        assert by_id[made[0].id].enabled and not by_id[made[1].id].enabled
        assert by_id[made[1].id].disabled_reason == (
            "Over the developer plan's limit of 1 webhook target(s); "
            "upgrade to the growth plan to re-enable it."
        )
        assert by_id[made[2].id].disabled_reason == "disabled by the user"
        stored = list((await session.execute(select(RoutingRule))).scalars())
        assert len(stored) == 2 and not any(r.enabled for r in stored)
        assert all("limit of 0 routing rule(s)" in (r.disabled_reason or "") for r in stored)
        assert await session.scalar(select(func.count()).select_from(Project)) == 2  # nothing deleted

        tenant = await tenant_for_project(session, await session.get(Project, first.id))
        with pytest.raises(ApiError) as refused:
            await targets.set_target_enabled(session, tenant, made[1].id, True)
        assert refused.value.status == 403 and refused.value.errors == {"plan": "growth"}
        with pytest.raises(ApiError) as refused:
            await rules.update_rule(session, tenant, stored[0].id, {"enabled": True})
        assert refused.value.status == 403

    async with ctx.db.transaction() as session:
        account = await session.get(Account, account.id)
        changes = await change_plan(session, account, plan="growth")
    assert changes["projects"] == {"disabled": [], "enabled": [second.id]}
    assert changes["targets"] == {"disabled": [], "enabled": [made[1].id]}
    assert len(changes["rules"]["enabled"]) == 2 and len(changes["channels"]["enabled"]) == 1
    async with ctx.db.session() as session:
        assert (await session.get(Project, second.id)).disabled_reason is None
        statuses = {c.status for c in (await session.execute(select(Channel))).scalars()}
        assert statuses == {"active"}
        target = await session.get(WebhookTarget, made[1].id)
        assert target.enabled and target.disabled_reason is None and not target.disabled_by_plan
        assert not (await session.get(WebhookTarget, made[2].id)).enabled  # still as the user left it


async def test_a_disabled_projects_keys_are_refused_with_the_reason(database: Database, settings) -> None:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account, _, second, _ = await _scale_account(ctx, session)
        _, secret = await service.mint_api_key(session, second)
    async with ctx.db.transaction() as session:
        await change_plan(session, await session.get(Account, account.id), plan="developer")
    async with ctx.db.session() as session:
        with pytest.raises(ApiError) as refused:
            await service.tenant_for_key(session, secret)
    assert refused.value.status == 403 and "This project is disabled" in refused.value.message
    async with ctx.db.transaction() as session:
        await change_plan(session, await session.get(Account, account.id), plan="growth")
    async with ctx.db.session() as session:
        assert (await service.tenant_for_key(session, secret)) is not None


async def test_retention_shrinks_only_forward(database: Database, settings) -> None:
    ctx = context_for(settings)
    now = utcnow()
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "shrinking", "scale")
        project = await service.create_project(session, ctx.sealer, account, "main")
        for age in (20, 100):
            session.add(
                MessageLog(
                    project_id=project.id,
                    direction="outbound",
                    type="text",
                    status="sent",
                    created_at=now - timedelta(days=age),
                )
            )
        await record_event(
            session,
            project_id=project.id,
            type="account.update",
            dedup_key="old",
            data={},
            now=now - timedelta(days=20),
        )
    async with ctx.db.transaction() as session:
        await change_plan(session, await session.get(Account, account.id), plan="developer", now=now)
    removed = await purge_expired(ctx, now)
    assert removed["message_logs"] == 1 and removed["events"] == 0  # only what scale's 90 days let go

    later = now + timedelta(days=10)
    async with ctx.db.transaction() as session:
        session.add(
            MessageLog(
                project_id=project.id,
                direction="outbound",
                type="text",
                status="sent",
                created_at=now + timedelta(days=1),
            )
        )
    removed = await purge_expired(ctx, later)
    assert removed["message_logs"] == 1  # stored after the downgrade: developer's 7 days apply
    async with ctx.db.session() as session:
        left = (await session.execute(select(MessageLog.created_at))).scalars().all()
    assert [round((now - at).total_seconds() / 86400) for at in left] == [20]

    async with ctx.db.transaction() as session:
        account = await session.get(Account, account.id)
        await change_plan(session, account, plan="enterprise", now=later)
        assert account.retention_days_before is None and account.retention_changed_at is None


def _webhook(*numbered: tuple[str, str]) -> bytes:
    """A Meta webhook with one text message per (phone_number_id, wamid)."""
    entries = [
        {
            "id": "9",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"phone_number_id": number},
                        "messages": [
                            {
                                "from": "6281100",
                                "id": wamid,
                                "timestamp": "1767225600",
                                "type": "text",
                                "text": {"body": wamid},
                            }
                        ],
                    },
                }
            ],
        }
        for number, wamid in numbered
    ]
    return orjson.dumps({"object": "whatsapp_business_account", "entry": entries})


async def test_an_upgrade_processes_the_webhooks_kept_for_a_channel_the_plan_disabled(
    database: Database, settings
) -> None:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account, first, second, _ = await _scale_account(ctx, session)
    async with ctx.db.transaction() as session:
        await change_plan(session, await session.get(Account, account.id), plan="developer")
    async with ctx.db.transaction() as session:
        session.add(RawEvent(source="meta", body=_webhook(("1002", "wamid.alone"))))
        session.add(RawEvent(source="meta", body=_webhook(("1001", "wamid.kept"), ("1002", "wamid.mixed"))))
    await processor.process_pending(ctx)

    async def events(project: Project) -> list[str]:
        async with ctx.db.session() as session:
            stmt = (
                select(Event.dedup_key)
                .where(Event.project_id == project.id, Event.type == "messages.received")
                .order_by(Event.dedup_key)
            )
            return list((await session.execute(stmt)).scalars())

    async with ctx.db.session() as session:
        raws = list((await session.execute(select(RawEvent.status).order_by(RawEvent.id))).scalars())
    assert raws == ["unrouted", "processed"] and await events(second) == []
    assert await events(first) == ["msg:wamid.kept"]

    async with ctx.db.transaction() as session:
        await change_plan(session, await session.get(Account, account.id), plan="scale")
    await processor.process_pending(ctx)
    assert await events(second) == ["msg:wamid.alone", "msg:wamid.mixed"]  # processed now
    assert await events(first) == ["msg:wamid.kept"]  # the one routed already is not routed twice
    async with ctx.db.session() as session:
        assert set((await session.execute(select(RawEvent.status))).scalars()) == {"processed"}
        assert (await session.get(Channel, (await _channel_of(session, second)))).plan_disabled_at is None
    await ctx.aclose()


async def _channel_of(session, project: Project) -> str:  # type: ignore[no-untyped-def]
    return str(await session.scalar(select(Channel.id).where(Channel.project_id == project.id)))


async def test_webhooks_kept_before_the_plan_disabled_a_channel_are_not_taken_again(
    database: Database, settings
) -> None:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account, _, second, _ = await _scale_account(ctx, session)
        session.add(RawEvent(source="meta", body=_webhook(("1003", "wamid.before"))))
    await processor.process_pending(ctx)  # no channel has 1003 yet: kept unrouted
    async with ctx.db.transaction() as session:
        project = await session.get(Project, second.id)
        await service.add_channel(
            session,
            ctx.sealer,
            project,
            kind="sandbox",
            phone_number_id="1003",
            waba_id="9",
            access_token="-",
        )
    for plan in ("developer", "scale"):
        async with ctx.db.transaction() as session:
            await change_plan(session, await session.get(Account, account.id), plan=plan)
    async with ctx.db.session() as session:
        assert list((await session.execute(select(RawEvent.status))).scalars()) == ["unrouted"]
    await ctx.aclose()
