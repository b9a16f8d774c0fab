"""The routing cache: a change to targets or rules is honoured by the next batch processed, in this
process at its commit and, on PostgreSQL, in another process as soon as its notice arrives."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import orjson
import pytest
from sqlalchemy import select

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.context import AppContext
from kirem.db.engine import Database
from kirem.delivery.models import Delivery
from kirem.inbound.models import Event, RawEvent
from kirem.pipeline import processor
from kirem.routing import cache as routing_cache
from kirem.routing.models import RoutingRule, WebhookTarget
from kirem.signals import listen
from kirem.tenancy import service
from tests.conftest import ENGINES


@dataclass
class World:
    ctx: AppContext
    project_id: str
    target_id: str


@pytest.fixture
async def world(database: Database, settings: Settings) -> AsyncIterator[World]:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "routing-co", "growth")
        project = await service.create_project(session, ctx.sealer, account, "main")
        await service.add_channel(
            session,
            ctx.sealer,
            project,
            kind="live",
            phone_number_id="9001",
            waba_id="9002",
            access_token="t",
        )
        target = WebhookTarget(project_id=project.id, url="http://127.0.0.1:9/hook")
        session.add(target)
        await session.flush()
    yield World(ctx, project.id, target.id)
    await ctx.aclose()


def webhook(wamid: str, text: str) -> bytes:
    message = {
        "from": "6281100",
        "id": wamid,
        "timestamp": "1767225600",
        "type": "text",
        "text": {"body": text},
    }
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "9001"}, "messages": [message]}
    entry = {"id": "9002", "changes": [{"field": "messages", "value": value}]}
    return orjson.dumps({"object": "whatsapp_business_account", "entry": [entry]})


async def routed_to(world: World, wamid: str, text: str) -> list[str]:
    """Store and process one message; the targets its event was queued for."""
    async with world.ctx.db.transaction() as session:
        session.add(RawEvent(source="meta", body=webhook(wamid, text)))
    assert await processor.process_pending(world.ctx) == 1
    async with world.ctx.db.session() as session:
        stmt = (
            select(Delivery.target_id)
            .join(Event, Event.id == Delivery.event_id)
            .where(Event.dedup_key == f"msg:{wamid}")
        )
        return list((await session.execute(stmt)).scalars())


async def test_a_rule_committed_here_is_honoured_by_the_next_batch(world: World) -> None:
    assert await routed_to(world, "wamid.1", "hello") == [world.target_id]  # the routing is cached now
    async with world.ctx.db.transaction() as session:
        session.add(
            RoutingRule(
                project_id=world.project_id,
                name="only alpha",
                conditions={"keywords": ["alpha"]},
                target_ids=[world.target_id],
            )
        )
    assert await routed_to(world, "wamid.2", "hello") == []
    assert await routed_to(world, "wamid.3", "alpha here") == [world.target_id]


async def test_a_change_rolled_back_or_in_a_savepoint_keeps_the_cache(world: World) -> None:
    async with world.ctx.db.session() as session:
        await routing_cache.routing_of(session, [world.project_id])
    before = routing_cache.cache.invalidations
    async with world.ctx.db.session() as session:
        target = await session.get(WebhookTarget, world.target_id)
        assert target is not None
        async with session.begin_nested():
            target.enabled = False
        assert routing_cache.cache.invalidations == before  # not committed yet: nothing to drop
        await session.rollback()
    assert routing_cache.cache.invalidations == before


CHANGE_ELSEWHERE = """
import asyncio, sys
from kirem.config import Settings
import kirem.tables  # every table, so the rule's foreign keys resolve
from kirem.db.engine import Database
from kirem.routing.models import RoutingRule

async def main() -> None:
    db = Database(Settings())
    async with db.transaction() as session:
        session.add(RoutingRule(project_id=sys.argv[1], name="only alpha",
                                conditions={"keywords": ["alpha"]}, target_ids=[sys.argv[2]]))
    await db.dispose()

asyncio.run(main())
"""


async def until(condition: object, what: str) -> None:
    """Wait for ``condition()`` (a bound against hanging, not a timing check)."""
    for _ in range(1000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


@pytest.mark.parametrize("engine_name", [e for e in ENGINES if e == "postgres"])  # notices are PostgreSQL's
async def test_a_rule_committed_by_another_process_is_honoured_on_its_notice(
    world: World, settings: Settings
) -> None:
    ctx, cache = world.ctx, routing_cache.cache
    ctx.signals.notices[routing_cache.CHANNEL] = routing_cache.on_notice
    stop = asyncio.Event()
    connected = cache.invalidations
    listener = asyncio.create_task(listen(settings.database_url, ctx.signals, stop))
    try:
        await until(lambda: cache.invalidations > connected, "the listener connected")
        assert await routed_to(world, "wamid.1", "hello") == [world.target_id]  # cached for 60 s now

        before = cache.invalidations
        env = {**os.environ, "KIREM_DATABASE_URL": settings.database_url}
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-c", CHANGE_ELSEWHERE, world.project_id, world.target_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        await until(lambda: cache.invalidations > before, "the other process's notice")

        assert await routed_to(world, "wamid.2", "hello") == []
        assert await routed_to(world, "wamid.3", "alpha here") == [world.target_id]
    finally:
        stop.set()
        await listener
