"""The delivery worker on a real database with a scripted sender: schedule, leases, disabling, breaker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.delivery.deliveries import replay_delivery
from kirem.delivery.enqueue import fan_out
from kirem.delivery.models import Delivery, DeliveryAttempt
from kirem.delivery.sender import AttemptResult
from kirem.delivery.signing import verify_kirem_signature
from kirem.delivery.worker import BREAKER_THRESHOLD, DeliveryWorker
from kirem.inbound.events import record_event
from kirem.inbound.models import Event
from kirem.routing.models import WebhookTarget
from kirem.routing.targets import HEADER_MASK, HEADERS_AAD
from kirem.signals import DELIVERIES, Signals
from kirem.tenancy import service


def result(status: int | None, *, retry_after: float | None = None) -> AttemptResult:
    ok = status is not None and 200 <= status < 300
    return AttemptResult(status, 5, ok, None if ok else f"HTTP {status}", "", retry_after, status == 410)


@dataclass
class ScriptedSender:
    answers: list[AttemptResult] = field(default_factory=list)
    sent: list[tuple[str, bytes, Mapping[str, str]]] = field(default_factory=list)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptResult:
        self.sent.append((url, body, dict(headers)))
        return self.answers.pop(0) if self.answers else result(200)

    async def aclose(self) -> None:
        return None


@dataclass
class World:
    ctx: AppContext
    project_id: str
    secret: str
    sender: ScriptedSender
    worker: DeliveryWorker

    async def target(self, url: str = "http://127.0.0.1:9/hook", **fields: object) -> str:
        async with self.ctx.db.transaction() as session:
            target = WebhookTarget(project_id=self.project_id, url=url, **fields)
            session.add(target)
            await session.flush()
            return target.id

    async def event(self, text: str = "halo") -> str:
        async with self.ctx.db.transaction() as session:
            event = await record_event(
                session,
                project_id=self.project_id,
                type="messages.received",
                dedup_key=f"msg:{text}:{utcnow().timestamp()}",
                data={"from": "62812345678", "type": "text", "text": {"body": text}},
                facts={"message_type": "text", "sender": "62812345678", "texts": [text]},
                now=utcnow(),
            )
            assert event is not None
            await fan_out(session, event)
            return event.id

    async def deliveries(self) -> list[Delivery]:
        async with self.ctx.db.session() as session:
            return list((await session.execute(select(Delivery).order_by(Delivery.created_at))).scalars())

    async def step(self) -> int:
        started = await self.worker.run_once()
        await self.worker.drain()
        return started


@pytest.fixture
async def world(database: Database, settings: Settings) -> AsyncIterator[World]:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "worker-co", "growth")
        project = await service.create_project(session, ctx.sealer, account, "main")
        secret = service.webhook_secret(ctx.sealer, project)
    sender = ScriptedSender()
    yield World(ctx, project.id, secret, sender, DeliveryWorker(ctx, sender))
    await ctx.aclose()


async def test_success_is_signed_logged_and_final(world: World) -> None:
    await world.target()
    event_id = await world.event()
    assert await world.step() == 1
    [(url, body, headers)] = world.sender.sent
    assert verify_kirem_signature(world.secret, body, headers["X-Kirem-Signature"])
    assert headers["webhook-id"] == event_id
    [delivery] = await world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.leased_by) == ("succeeded", 1, None)
    async with world.ctx.db.session() as session:
        [attempt] = (await session.execute(select(DeliveryAttempt))).scalars()
    assert attempt.is_success and attempt.status_code == 200 and attempt.url == url
    assert await world.step() == 0


async def test_the_attempt_log_keeps_the_request_headers_with_custom_values_masked(world: World) -> None:
    target_id = await world.target()
    async with world.ctx.db.transaction() as session:
        target = await session.get(WebhookTarget, target_id)
        assert target is not None
        target.headers_sealed = world.ctx.sealer.seal(
            '{"Authorization": "Bearer s3cret"}', world.project_id, target_id, HEADERS_AAD
        )
    await world.event()
    await world.step()
    [(_, _, sent)] = world.sender.sent
    assert sent["Authorization"] == "Bearer s3cret"
    async with world.ctx.db.session() as session:
        [attempt] = (await session.execute(select(DeliveryAttempt))).scalars()
    assert attempt.request_headers is not None
    assert attempt.request_headers["Authorization"] == HEADER_MASK
    assert attempt.request_headers["X-Kirem-Signature"] == sent["X-Kirem-Signature"]
    assert attempt.request_headers["webhook-id"] == sent["webhook-id"]
    assert "s3cret" not in str(attempt.request_headers)


async def test_failures_follow_the_schedule_then_give_up(world: World) -> None:
    """Each retry is due its schedule's wait (±20 % jitter) after the attempt that failed, measured
    from the attempt's recorded time, so a slow machine cannot move the figures."""
    await world.target(max_attempts=3)
    await world.event()
    world.sender.answers = [result(500), result(503), result(500)]
    waits: list[float] = []
    for _ in range(2):
        await world.step()
        [delivery] = await world.deliveries()
        async with world.ctx.db.session() as session:
            last = (
                (await session.execute(select(DeliveryAttempt).order_by(DeliveryAttempt.attempt.desc())))
                .scalars()
                .first()
            )
        assert last is not None and delivery.status == "pending" and delivery.attempts == last.attempt
        waits.append((delivery.next_attempt_at - last.created_at).total_seconds())
        async with world.ctx.db.transaction() as session:
            await session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    assert 5 * 0.8 <= waits[0] <= 5 * 1.2 and 300 * 0.8 <= waits[1] <= 300 * 1.2
    await world.step()
    [delivery] = await world.deliveries()
    assert delivery.status == "failed" and delivery.attempts == 3 and delivery.completed_at is not None
    async with world.ctx.db.session() as session:
        numbers = (await session.execute(select(DeliveryAttempt.attempt))).scalars()
        assert sorted(numbers) == [1, 2, 3]


async def test_retry_after_is_honoured(world: World) -> None:
    await world.target()
    await world.event()
    world.sender.answers = [result(429, retry_after=120)]
    await world.step()
    [delivery] = await world.deliveries()
    async with world.ctx.db.session() as session:
        [attempt] = (await session.execute(select(DeliveryAttempt))).scalars()
    assert (delivery.next_attempt_at - attempt.created_at).total_seconds() >= 120


async def test_410_disables_the_target_skips_its_queue_and_tells_the_others(world: World) -> None:
    gone = await world.target("http://127.0.0.1:9/gone")
    watcher = await world.target("http://127.0.0.1:9/watch", events=["targets.disabled"])
    await world.event("satu")
    world.sender.answers = [result(410)]
    world.worker.per_target_concurrency = 1
    world.worker.batch_size = 1
    await world.step()
    await world.event("dua")
    async with world.ctx.db.session() as session:
        target = await session.get(WebhookTarget, gone)
        assert target is not None and not target.enabled and "410" in (target.disabled_reason or "")
        notices = list(
            (await session.execute(select(Event).where(Event.type == "targets.disabled"))).scalars()
        )
        assert len(notices) == 1 and notices[0].data["target_id"] == gone
    statuses = {(d.target_id, d.status) for d in await world.deliveries()}
    assert (gone, "failed") in statuses and (gone, "skipped") in statuses
    assert (watcher, "pending") in statuses


async def test_five_days_of_failure_disable_the_target(world: World) -> None:
    target_id = await world.target(failing_since=utcnow() - timedelta(days=5, minutes=1))
    await world.event()
    world.sender.answers = [result(500)]
    await world.step()
    async with world.ctx.db.session() as session:
        target = await session.get(WebhookTarget, target_id)
    assert target is not None and not target.enabled and "5 days" in (target.disabled_reason or "")
    deliveries = {d.event_type: d.status for d in await world.deliveries()}
    assert deliveries == {"messages.received": "failed", "targets.disabled": "skipped"}


async def test_a_success_clears_failing_since(world: World) -> None:
    target_id = await world.target(failing_since=utcnow() - timedelta(days=1))
    await world.event()
    await world.step()
    async with world.ctx.db.session() as session:
        target = await session.get(WebhookTarget, target_id)
    assert target is not None and target.failing_since is None and target.enabled


async def test_rows_leased_by_another_worker_are_left_alone_until_the_lease_expires(world: World) -> None:
    await world.target()
    await world.event()
    async with world.ctx.db.transaction() as session:
        await session.execute(
            update(Delivery).values(leased_by="wrk_other", lease_expires_at=utcnow() + timedelta(minutes=1))
        )
    assert await world.step() == 0
    async with world.ctx.db.transaction() as session:
        await session.execute(update(Delivery).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert await world.step() == 1
    [delivery] = await world.deliveries()
    assert delivery.status == "succeeded"


async def test_an_attempt_whose_lease_was_lost_is_not_recorded(world: World) -> None:
    await world.target()
    await world.event()
    async with world.ctx.db.session() as session:
        [(delivery_id, _)] = await world.worker.claim(session, 10)
    async with world.ctx.db.transaction() as session:
        await session.execute(update(Delivery).values(leased_by="wrk_thief"))
    await world.worker.record(delivery_id, "http://x", result(200))
    [delivery] = await world.deliveries()
    assert delivery.status == "pending" and delivery.attempts == 0


async def test_breaker_opens_after_failures_in_a_row_and_other_targets_still_flow(world: World) -> None:
    dead = await world.target("http://127.0.0.1:9/dead", retry_schedule=[0, 0, 0, 0, 0, 0, 0, 0])
    await world.target("http://127.0.0.1:9/alive")
    failing = ScriptedSender()

    async def send(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptResult:
        failing.sent.append((url, body, dict(headers)))
        return result(500) if url.endswith("/dead") else result(200)

    world.worker.sender.send = send  # type: ignore[method-assign]
    for i in range(BREAKER_THRESHOLD + 3):
        await world.event(f"m{i}")
    for _ in range(4):
        await world.step()
    dead_attempts = [s for s in failing.sent if s[0].endswith("/dead")]
    alive_attempts = [s for s in failing.sent if s[0].endswith("/alive")]
    assert len(alive_attempts) == BREAKER_THRESHOLD + 3
    assert dead in world.worker._blocked_targets()
    assert len(dead_attempts) < 4 * (BREAKER_THRESHOLD + 3)


async def test_disabled_target_rows_become_skipped_when_claimed(world: World) -> None:
    target_id = await world.target()
    await world.event()
    async with world.ctx.db.transaction() as session:
        await session.execute(
            update(WebhookTarget).where(WebhookTarget.id == target_id).values(enabled=False)
        )
    await world.step()
    [delivery] = await world.deliveries()
    assert delivery.status == "skipped" and world.sender.sent == []


@dataclass
class CountingSender(ScriptedSender):
    in_flight: int = 0
    most: int = 0

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptResult:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return await super().send(url, body, headers, timeout)


async def settle(worker: DeliveryWorker) -> None:
    """Until every claimed row was sent and recorded (``drain`` would give waiting rows back)."""
    while worker.tasks or any(gate.waiting for gate in worker.gates.values()):
        await asyncio.wait(set(worker.tasks))


async def test_claimed_rows_beyond_the_concurrency_wait_and_go_as_slots_free(world: World) -> None:
    await world.target()
    for i in range(7):
        await world.event(f"m{i}")
    sender = CountingSender()
    world.worker.sender = sender
    world.worker.per_target_concurrency = 2
    assert await world.worker.run_once() == 7
    await settle(world.worker)
    assert len(sender.sent) == 7 and sender.most == 2
    assert {(d.status, d.attempts, d.leased_by) for d in await world.deliveries()} == {("succeeded", 1, None)}


@dataclass
class GatedSender(ScriptedSender):
    """Holds every attempt until ``gate`` is set."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> AttemptResult:
        await self.gate.wait()
        return await super().send(url, body, headers, timeout)


class RecordingSignals(Signals):
    def __init__(self) -> None:
        super().__init__()
        self.woken: list[str] = []

    def wake(self, channel: str) -> None:
        self.woken.append(channel)
        super().wake(channel)


async def test_rows_left_out_for_want_of_room_are_claimed_once_the_target_has_room(world: World) -> None:
    await world.target()
    for i in range(6):
        await world.event(f"m{i}")
    sender = GatedSender()
    signals = RecordingSignals()
    world.ctx.signals = signals
    world.worker.sender = sender
    world.worker.per_target_concurrency = 1
    assert await world.worker.run_once() == 4  # claimed ahead: one in flight, three waiting
    assert await world.worker.run_once() == 0  # no room left for the target: its rows stay due
    sender.gate.set()
    await settle(world.worker)
    assert DELIVERIES in signals.woken  # the claim loop is woken, not left to its poll
    assert await world.worker.run_once() == 2
    await settle(world.worker)
    assert len(sender.sent) == 6


async def test_a_row_whose_lease_would_end_mid_attempt_is_given_back_unsent(world: World) -> None:
    await world.target()
    await world.event()
    now = [0.0]
    world.worker.clock = lambda: now[0]
    world.worker.per_target_concurrency = 1
    sender = CountingSender()
    world.worker.sender = sender
    await world.event("second")
    assert await world.worker.run_once() == 2
    now[0] = world.ctx.settings.delivery_lease_seconds  # the second row waited past its lease
    await world.worker.drain()
    assert len(sender.sent) == 1
    rows = {(d.status, d.attempts, d.leased_by) for d in await world.deliveries()}
    assert rows == {("succeeded", 1, None), ("pending", 0, None)}


async def test_results_recorded_together_apply_in_order_per_target(world: World) -> None:
    target_id = await world.target(failing_since=utcnow() - timedelta(hours=1))
    for text in ("a", "b", "c"):
        await world.event(text)
    async with world.ctx.db.session() as session:
        ids = [delivery_id for delivery_id, _ in await world.worker.claim(session, 10)]
    results = [result(200), result(500), result(500)]
    await asyncio.gather(*(world.worker.record(i, "http://x", r) for i, r in zip(ids, results, strict=True)))
    async with world.ctx.db.session() as session:
        target = await session.get(WebhookTarget, target_id)
        attempts = list((await session.execute(select(DeliveryAttempt))).scalars())
    assert target is not None and target.failing_since is not None
    assert utcnow() - target.failing_since < timedelta(minutes=1)  # cleared by the success, then set again
    assert sorted(a.is_success for a in attempts) == [False, False, True]
    statuses = sorted((d.status, d.attempts, d.leased_by) for d in await world.deliveries())
    assert statuses == [("pending", 1, None), ("pending", 1, None), ("succeeded", 1, None)]


async def test_stopping_gives_back_the_rows_not_sent_yet(world: World) -> None:
    await world.target()
    for text in ("a", "b", "c"):
        await world.event(text)
    world.worker.per_target_concurrency = 1
    assert await world.worker.run_once() == 3
    await world.worker.drain()
    assert len(world.sender.sent) == 1
    rows = sorted((d.status, d.leased_by is None) for d in await world.deliveries())
    assert rows == [("pending", True), ("pending", True), ("succeeded", True)]


async def _failed_once(world: World) -> str:
    """A delivery whose first attempt failed, due again now (a replay puts such a row back)."""
    await world.target()
    await world.event()
    world.sender.answers = [result(500)]
    await world.step()
    async with world.ctx.db.transaction() as session:
        await session.execute(update(Delivery).values(next_attempt_at=utcnow()))
    [delivery] = await world.deliveries()
    return delivery.id


async def _replay(world: World, delivery_id: str) -> None:
    async with world.ctx.db.transaction() as session:
        assert await replay_delivery(session, world.project_id, delivery_id) == 1


async def _logged(world: World) -> list[tuple[int, bool]]:
    async with world.ctx.db.session() as session:
        rows = await session.execute(
            select(DeliveryAttempt.attempt, DeliveryAttempt.is_success).order_by(DeliveryAttempt.created_at)
        )
        return [(attempt, ok) for attempt, ok in rows]


async def test_a_replay_during_an_attempt_keeps_its_record_then_starts_a_fresh_series(world: World) -> None:
    delivery_id = await _failed_once(world)
    async with world.ctx.db.session() as session:
        [(claimed, _)] = await world.worker.claim(session, 10)
    assert claimed == delivery_id
    await _replay(world, delivery_id)  # while the attempt is in flight
    await world.worker.record(delivery_id, "http://x", result(200))
    assert await _logged(world) == [(1, False), (2, True)]
    [delivery] = await world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.leased_by, delivery.replay_requested) == (
        "pending",
        0,
        None,
        False,
    )
    assert await world.step() == 1
    assert await _logged(world) == [(1, False), (2, True), (1, True)]
    [delivery] = await world.deliveries()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)


async def test_a_row_replayed_during_its_attempt_is_not_claimed_again_before_the_result(world: World) -> None:
    delivery_id = await _failed_once(world)
    async with world.ctx.db.session() as session:
        assert len(await world.worker.claim(session, 10)) == 1
    await _replay(world, delivery_id)
    async with world.ctx.db.session() as session:
        assert await world.worker.claim(session, 10) == []  # the lease still runs: no second attempt
    await world.worker.record(delivery_id, "http://x", result(200))
    [delivery] = await world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.leased_by) == ("pending", 0, None)
    assert await _logged(world) == [(1, False), (2, True)]


async def test_a_replayed_row_given_back_unsent_starts_the_fresh_series_when_claimed(world: World) -> None:
    delivery_id = await _failed_once(world)
    async with world.ctx.db.session() as session:
        assert len(await world.worker.claim(session, 10)) == 1
    await _replay(world, delivery_id)
    await world.worker._release([delivery_id])
    assert await world.step() == 1
    assert await _logged(world) == [(1, False), (1, True)]
    [delivery] = await world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.replay_requested) == ("succeeded", 1, False)


async def test_a_replay_after_the_attempt_was_recorded_requeues_at_once(world: World) -> None:
    delivery_id = await _failed_once(world)
    await _replay(world, delivery_id)
    [delivery] = await world.deliveries()
    assert (delivery.status, delivery.attempts, delivery.leased_by, delivery.replay_requested) == (
        "pending",
        0,
        None,
        False,
    )
