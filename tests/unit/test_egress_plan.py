"""A plan change and dedicated egress, on a real database: a downgrade keeps the settings but the worker
and the target test leave from the default address; an upgrade uses the settings again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.db.engine import Database
from kirem.delivery.target_probe import send_test_event
from kirem.delivery.worker import DeliveryWorker
from kirem.plan_changes import change_plan
from kirem.tenancy import service
from kirem.tenancy.egress import Egress, egress_view, stored
from kirem.tenancy.models import Account, Project
from kirem.tenancy.service import tenant_for_project
from tests.egress_servers import Recorder, recorder
from tests.unit.test_delivery_worker import ScriptedSender, World


@pytest.fixture
async def bound(database: Database, settings: Settings) -> AsyncIterator[tuple[World, Recorder, str, str]]:
    """A scale project bound to 127.0.0.2 with one target on a recording consumer; the worker's
    default sender is scripted, so what leaves the default way never reaches the consumer."""
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "egress-co", "scale")
        project = await service.create_project(session, ctx.sealer, account, "main")
        project.egress = stored(ctx.sealer, project, Egress(bind_address="127.0.0.2"))
        secret = service.webhook_secret(ctx.sealer, project)
    sender = ScriptedSender()
    world = World(ctx, project.id, secret, sender, DeliveryWorker(ctx, sender))
    with recorder() as consumer:
        target_id = await world.target(consumer.url + "/hook")
        yield world, consumer, account.id, target_id
    await world.worker.egress_senders.aclose()
    await ctx.aclose()


async def _change(world: World, account_id: str, **change: Any) -> dict[str, Any]:
    async with world.ctx.db.transaction() as session:
        account = await session.get(Account, account_id)
        assert account is not None
        return await change_plan(session, account, **change)


async def _view(world: World, account_id: str) -> dict[str, Any]:
    async with world.ctx.db.session() as session:
        account = await session.get(Account, account_id)
        project = await session.get(Project, world.project_id)
        assert account is not None and project is not None
        return egress_view(project, account)


async def _deliver(world: World) -> None:
    await world.event()
    assert await world.step() == 1


async def test_a_downgrade_delivers_the_default_way_and_an_upgrade_restores_the_address(bound) -> None:
    world, consumer, account_id, _ = bound
    await _deliver(world)
    assert consumer.seen() == ["127.0.0.2"] and world.sender.sent == []

    changes = await _change(world, account_id, plan="growth")
    assert changes["egress"] == {"disabled": [world.project_id], "enabled": []}
    view = await _view(world, account_id)
    assert view["bind_address"] == "127.0.0.2" and view["active"] is False
    assert view["inactive_reason"].startswith("Dedicated outbound IPs are not part of the growth plan")
    assert "upgrade to the scale plan" in view["inactive_reason"]
    await _deliver(world)
    assert consumer.seen() == ["127.0.0.2"] and len(world.sender.sent) == 1

    changes = await _change(world, account_id, plan="scale")
    assert changes["egress"] == {"disabled": [], "enabled": [world.project_id]}
    view = await _view(world, account_id)
    assert view == {"bind_address": "127.0.0.2", "proxy_url": None, "active": True, "inactive_reason": None}
    await _deliver(world)
    assert consumer.seen() == ["127.0.0.2", "127.0.0.2"] and len(world.sender.sent) == 1


async def test_an_operator_override_turns_the_address_off_and_back_on(bound) -> None:
    world, consumer, account_id, _ = bound
    changes = await _change(world, account_id, overrides={"dedicated_outbound_ip": False})
    assert changes["egress"]["disabled"] == [world.project_id]
    assert "by an operator override" in (await _view(world, account_id))["inactive_reason"]
    await _deliver(world)
    assert consumer.seen() == [] and len(world.sender.sent) == 1

    changes = await _change(world, account_id, overrides={})
    assert changes["egress"]["enabled"] == [world.project_id]
    await _deliver(world)
    assert consumer.seen() == ["127.0.0.2"]


async def test_a_plan_change_that_keeps_the_flag_reports_no_egress_change(bound) -> None:
    world, _, account_id, _ = bound
    assert (await _change(world, account_id, plan="enterprise"))["egress"] == {"disabled": [], "enabled": []}


async def test_the_target_test_leaves_the_default_way_after_a_downgrade(bound) -> None:
    world, consumer, account_id, target_id = bound
    async with world.ctx.db.session() as session:
        project = await session.get(Project, world.project_id)
        assert project is not None
        tenant = await tenant_for_project(session, project)
        sent = await send_test_event(world.ctx, session, tenant, target_id)
    assert sent["success"] and consumer.seen() == ["127.0.0.2"]

    await _change(world, account_id, plan="growth")
    async with world.ctx.db.session() as session:
        project = await session.get(Project, world.project_id)
        assert project is not None
        tenant = await tenant_for_project(session, project)
        sent = await send_test_event(world.ctx, session, tenant, target_id)
    assert sent["success"] and consumer.seen() == ["127.0.0.2", "127.0.0.1"]
