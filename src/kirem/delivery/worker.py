"""The delivery worker: claims due deliveries with a lease, sends them, records every attempt.

The ``deliveries`` table is the queue. A claim sets ``leased_by`` and a lease longer than any
request timeout; on PostgreSQL rows are picked ``FOR UPDATE SKIP LOCKED`` so several workers never
take the same row, on SQLite the claiming ``UPDATE`` itself re-checks the lease under SQLite's
single writer. An attempt's result is written only while the worker still holds the lease. A replay
asked for meanwhile waits for that result (``replay_requested``); a row given back unsent, or whose
lease expired, starts the replay's fresh series when it is next claimed.

One slow or dead target cannot hold up the others: each target has at most
``per_target_concurrency`` attempts in flight, and after ``BREAKER_THRESHOLD`` failures in a row its
circuit opens — its deliveries wait (their attempts are not spent) while one probe at a time tests
whether it is back. Other targets' rows keep being claimed meanwhile.

Claims run ahead of the sends: a target's claimed rows wait in memory (up to ``CLAIM_AHEAD`` times
its concurrency) and each finished attempt starts the next one at once, so a target always has
requests in flight while the next claim is made, and a claim is only made once a target has room
for a whole concurrency's worth of rows. Rows waiting in memory keep their lease; they are given
back when the target's circuit opens, when the worker stops, and when too little of their lease is
left for an attempt to finish within it (a slow target), so no row is sent after its lease ended.

Fresh rows need no claim: the processing pipeline of this process writes them already leased to
this worker and hands them over once committed, with their events' bodies, so they are signed
without reading anything back but the targets (:meth:`DeliveryWorker.adopt`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.db.group_commit import GroupCommitter
from kirem.delivery.attempts import TargetSigner, attempt, logged_headers
from kirem.delivery.egress import EgressSenders
from kirem.delivery.enqueue import Fresh, Lease, fan_out
from kirem.delivery.models import Delivery
from kirem.delivery.outcomes import AttemptOutcomes
from kirem.delivery.secret import signing_secrets
from kirem.delivery.sender import AttemptResult, WebhookSender
from kirem.inbound.events import record_event
from kirem.inbound.models import Event
from kirem.kit.enums import DeliveryStatus
from kirem.routing.models import WebhookTarget
from kirem.signals import DELIVERIES
from kirem.tenancy.egress import Egress, project_egress
from kirem.tenancy.models import Account, Project

log = logging.getLogger("kirem.worker")

BREAKER_THRESHOLD = 5
BREAKER_MAX_COOLDOWN = 300.0
POLL_SECONDS = 1.0
CLAIM_AHEAD = 4
"""A target's claimed rows (in flight and waiting) are at most this many times its concurrency."""
LEASE_MARGIN = 5.0
"""Seconds of lease an attempt must have left beyond its timeout to be started (or, with a lease
shorter than that, half the lease)."""
RECORD_BATCH = 200

Row = tuple[str, str, str, str, str, bytes, bytes]
"""A delivery to sign: its id, target id and status, its event's id, type, kirem body and meta body."""
Recorded = tuple[str, str, AttemptResult, dict[str, str] | None]
"""An attempt waiting to be recorded: delivery id, URL, result, request headers as logged."""


@dataclass(frozen=True)
class PreparedRequest:
    """A claimed delivery's signed request, ready to send."""

    url: str
    timeout: float
    body: bytes
    headers: dict[str, str]
    egress: Egress | None


@dataclass
class TargetGate:
    """In-flight count and circuit breaker of one target, in this worker."""

    in_flight: int = 0
    failures_in_row: int = 0
    open_until: float = 0.0
    waiting: deque[tuple[str, PreparedRequest | None, float]] = field(default_factory=deque)
    """Claimed deliveries not sent yet, in claim order, each with when its lease ends (loop time)."""


@dataclass
class DeliveryWorker:
    ctx: AppContext
    sender: WebhookSender
    per_target_concurrency: int = 32
    batch_size: int = 500
    max_in_flight: int = 1000
    clock: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    worker_id: str = field(default_factory=lambda: "wrk_" + secrets.token_hex(6))
    gates: dict[str, TargetGate] = field(default_factory=lambda: defaultdict(TargetGate))
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    egress_senders: EgressSenders = field(default_factory=EgressSenders)
    """Senders of projects whose deliveries leave from a dedicated address or proxy."""
    recorder: GroupCommitter[Recorded] | None = None
    attempt_counters: dict[str, Counter] = field(default_factory=dict)

    @property
    def lease(self) -> timedelta:
        """Longer than the longest target timeout, so a live attempt never loses its row."""
        return timedelta(seconds=self.ctx.settings.delivery_lease_seconds)

    more_due: bool = False
    """The last claim left due rows behind for want of room in the worker: a freed slot calls for
    another claim."""
    starved: set[str] = field(default_factory=set)
    """Targets the last claim left out or cut short for want of room: once one has room again, it
    calls for another claim (without this, the rows waited for the next poll)."""
    stopping: bool = False
    """Set by :meth:`drain`: rows handed over from then on are given back at once."""

    def _sendable(self, gate: TargetGate) -> int:
        """How many more attempts the target may have in flight now (0 while its circuit is open)."""
        if gate.failures_in_row >= BREAKER_THRESHOLD:
            half_open = self.clock() >= gate.open_until
            return 1 if half_open and gate.in_flight == 0 else 0
        return self.per_target_concurrency - gate.in_flight

    def room(self, target_id: str) -> int:
        """How many more rows may be claimed for this target now: none until it has room for a whole
        concurrency's worth (one probe while its circuit is half open, none while it is open)."""
        gate = self.gates.get(target_id)
        if gate is None:
            return self.per_target_concurrency * CLAIM_AHEAD
        if gate.failures_in_row >= BREAKER_THRESHOLD:
            return 0 if gate.waiting else self._sendable(gate)
        free = self._free(target_id)
        return free if free >= self.per_target_concurrency else 0

    def _blocked_targets(self) -> list[str]:
        return [target_id for target_id in self.gates if self.room(target_id) <= 0]

    async def claim(self, session: AsyncSession, limit: int) -> list[tuple[str, str]]:
        """Lease up to ``limit`` due deliveries, no more per target than its gate has room for."""
        now = utcnow()
        due = (
            select(Delivery.id, Delivery.target_id)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
            .where(or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now))
            .order_by(Delivery.next_attempt_at)
            .limit(limit * 4)
        )
        blocked = self._blocked_targets()
        if blocked:
            due = due.where(Delivery.target_id.not_in(blocked))
        if session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        room: dict[str, int] = {}
        picked: list[str] = []
        self.more_due = False
        self.starved = set(blocked)
        for delivery_id, target_id in (await session.execute(due)).all():
            left = room.setdefault(target_id, self.room(target_id))
            if left <= 0:
                self.starved.add(target_id)
            elif len(picked) >= limit:
                self.more_due = True
            else:
                picked.append(delivery_id)
                room[target_id] = left - 1
        if not picked:
            await session.commit()
            return []
        claimed = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(picked), Delivery.status == DeliveryStatus.PENDING)
            .where(or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now))
            .values(
                lease_expires_at=now + self.lease,
                leased_by=self.worker_id,
                attempts=case((Delivery.replay_requested, 0), else_=Delivery.attempts),
                replay_requested=False,
            )
            .returning(Delivery.id, Delivery.target_id)
        )
        rows = [(row[0], row[1]) for row in claimed]
        await session.commit()
        return rows

    async def run_once(self) -> int:
        """Claim what is due (within the gates) and start what the gates let through; return how
        many were claimed."""
        room = self.max_in_flight - len(self.tasks) - sum(len(gate.waiting) for gate in self.gates.values())
        if room <= 0:
            return 0
        lease_ends = self.clock() + self.lease.total_seconds()
        async with self.ctx.db.session() as session:
            claimed = await self.claim(session, min(room, self.batch_size))
            requests = await self.prepare(session, [delivery_id for delivery_id, _ in claimed])
        self._queue(claimed, requests, lease_ends)
        return len(claimed)

    def handoff_lease(self, now: datetime) -> Lease:
        """The lease the pipeline writes fresh rows with: as many per target as it has room for
        (none while its circuit is open or half open: the claim makes the probes)."""
        return Lease(self.worker_id, now + self.lease, self._free)

    def _free(self, target_id: str) -> int:
        gate = self.gates.get(target_id)
        if gate is None:
            return self.per_target_concurrency * CLAIM_AHEAD
        if gate.failures_in_row >= BREAKER_THRESHOLD:
            return 0
        return max(0, self.per_target_concurrency * CLAIM_AHEAD - gate.in_flight - len(gate.waiting))

    async def adopt(self, lease: Lease, leased: list[Fresh]) -> None:
        """Take fresh rows the pipeline wrote leased to this worker: signed with the bodies handed
        over (the others read, as claimed ones are) and started; if that fails they are given back."""
        ids = [fresh.delivery_id for fresh in leased]
        if self.stopping:
            await self._release(ids)
            return
        lease_ends = self.clock() + (lease.until - utcnow()).total_seconds()
        given = [
            (f.delivery_id, f.target_id, DeliveryStatus.PENDING, f.event_id, f.event_type, *f.bodies)
            for f in leased
            if f.bodies is not None
        ]
        try:
            async with self.ctx.db.session() as session:
                unread = [fresh.delivery_id for fresh in leased if fresh.bodies is None]
                requests = await self._sign(session, given + await self._read(session, unread))
        except Exception:
            log.exception("taking %d fresh deliveries failed; giving them back", len(leased))
            await self._release(ids)
            return
        self._queue([(fresh.delivery_id, fresh.target_id) for fresh in leased], requests, lease_ends)

    def _queue(
        self, leased: list[tuple[str, str]], requests: dict[str, PreparedRequest], lease_ends: float
    ) -> None:
        for delivery_id, target_id in leased:
            self.gates[target_id].waiting.append((delivery_id, requests.get(delivery_id), lease_ends))
        for target_id in {target_id for _, target_id in leased}:
            self._start(target_id)

    def _start(self, target_id: str) -> None:
        """Start as many of the target's waiting deliveries as its gate lets through; give back those
        whose lease would end before their attempt."""
        gate = self.gates[target_id]
        expiring: list[str] = []
        while gate.waiting and self._sendable(gate) > 0:
            delivery_id, request, lease_ends = gate.waiting.popleft()
            needed = min(request.timeout + LEASE_MARGIN, self.lease.total_seconds() / 2) if request else 0.0
            if self.clock() + needed > lease_ends:
                expiring.append(delivery_id)
                continue
            gate.in_flight += 1
            task = asyncio.create_task(self._attempt_guarded(delivery_id, target_id, request))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        if expiring:
            task = asyncio.create_task(self._release(expiring))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def prepare(self, session: AsyncSession, delivery_ids: list[str]) -> dict[str, PreparedRequest]:
        """The signed requests of claimed deliveries, read with two queries for the batch.

        The deliveries and their events are read as plain columns; each target, project and
        account once, and each project's signing secrets and egress and each target's custom
        headers are opened once per batch. A delivery of a target disabled meanwhile is kept as
        ``skipped``; one no longer pending (or no longer ours) gets no request, so nothing is sent
        for it.
        """
        return await self._sign(session, await self._read(session, delivery_ids))

    async def _read(self, session: AsyncSession, delivery_ids: list[str]) -> list[Row]:
        """The deliveries still ours among ``delivery_ids``, with their events' bodies."""
        if not delivery_ids:
            return []
        stmt = (
            select(
                Delivery.id,
                Delivery.target_id,
                Delivery.status,
                Event.id,
                Event.type,
                Event.kirem_body,
                Event.meta_body,
            )
            .join(Event, Event.id == Delivery.event_id)
            .where(Delivery.id.in_(delivery_ids), Delivery.leased_by == self.worker_id)
        )
        return list(await session.execute(stmt))

    async def _sign(self, session: AsyncSession, rows: list[Row]) -> dict[str, PreparedRequest]:
        """Each row's signed request (see :meth:`prepare`); commits the session."""
        if not rows:
            return {}
        signers = await self._signers(session, {row[1] for row in rows}, utcnow())
        requests: dict[str, PreparedRequest] = {}
        skipped: list[str] = []
        for delivery_id, target_id, status, event_id, event_type, kirem_body, meta_body in rows:
            if status != DeliveryStatus.PENDING or target_id not in signers:
                continue
            signer, egress = signers[target_id]
            target = signer.target
            if not target.enabled:
                skipped.append(delivery_id)
                continue
            try:
                body, headers = signer.sign(delivery_id, event_id, event_type, kirem_body, meta_body)
                requests[delivery_id] = PreparedRequest(
                    target.url, target.timeout_seconds, body, headers, egress
                )
            except Exception:
                log.exception(
                    "delivery %s: its request could not be prepared; its lease will expire", delivery_id
                )
        if skipped:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(skipped), Delivery.leased_by == self.worker_id)
                .values(status=DeliveryStatus.SKIPPED, lease_expires_at=None, leased_by=None)
            )
        await session.commit()
        return requests

    async def _signers(
        self, session: AsyncSession, target_ids: set[str], now: datetime
    ) -> dict[str, tuple[TargetSigner, Egress | None]]:
        """Each target's signer and egress, each project's opened once (a failure leaves it out)."""
        stmt = (
            select(WebhookTarget, Project, Account)
            .join(Project, Project.id == WebhookTarget.project_id)
            .join(Account, Account.id == Project.account_id)
            .where(WebhookTarget.id.in_(target_ids))
        )
        opened: dict[str, tuple[list[str], Egress | None]] = {}
        signers: dict[str, tuple[TargetSigner, Egress | None]] = {}
        for target, project, account in await session.execute(stmt):
            try:
                if project.id not in opened:
                    sealer = self.ctx.sealer
                    opened[project.id] = (
                        signing_secrets(sealer, project, now),
                        project_egress(sealer, project, account),
                    )
                keys, egress = opened[project.id]
                signers[target.id] = (TargetSigner.open(self.ctx.sealer, target, keys, now), egress)
            except Exception:
                log.exception(
                    "target %s: its deliveries could not be signed; their leases will expire", target.id
                )
        return signers

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                started = await self.run_once()
            except Exception:
                log.exception("delivery claim failed; retrying")
                started = 0
            if started == 0:
                await self.ctx.signals.wait(DELIVERIES, POLL_SECONDS)
        await self.drain()
        if self.recorder is not None:
            await self.recorder.aclose()
        await self.egress_senders.aclose()

    async def drain(self, grace: float = 35.0) -> None:
        """Give back the rows not sent yet; let in-flight attempts finish; past ``grace`` cancel
        them and give their rows back."""
        self.stopping = True
        waiting = [delivery_id for gate in self.gates.values() for delivery_id, _, _ in gate.waiting]
        for gate in self.gates.values():
            gate.waiting.clear()
        if waiting:
            await self._release(waiting)
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _release(self, delivery_ids: list[str]) -> None:
        """Give leased rows back now (when that fails, their leases expire)."""
        try:
            async with self.ctx.db.transaction() as session:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(delivery_ids), Delivery.leased_by == self.worker_id)
                    .values(lease_expires_at=None, leased_by=None)
                )
        except Exception:
            log.warning("giving back %d deliveries failed; their leases will expire", len(delivery_ids))

    async def _attempt_guarded(
        self, delivery_id: str, target_id: str, request: PreparedRequest | None
    ) -> None:
        """Send, free the target's slot (starting its next waiting delivery), then record: the next
        attempt need not wait for the commit."""
        gate = self.gates[target_id]
        try:
            try:
                result = await self.send(request) if request is not None else None
            finally:
                gate.in_flight -= 1
            if request is not None and result is not None:
                await self._judge(gate, result.is_success)
                self._start(target_id)
                self._claim_if_due(target_id)
                await self.record(delivery_id, request.url, result, logged_headers(request.headers))
                outcome = "success" if result.is_success else "gone" if result.gone else "failure"
                self._attempts_counted(outcome).inc()
        except asyncio.CancelledError:
            await asyncio.shield(self._release([delivery_id]))
            raise
        except Exception:
            log.exception("delivery %s attempt crashed; its lease will expire", delivery_id)
        self._start(target_id)
        self._claim_if_due(target_id)

    def _attempts_counted(self, outcome: str) -> Counter:
        """The attempts metric of one outcome, looked up once (``labels`` costs a lock per call)."""
        counter = self.attempt_counters.get(outcome)
        if counter is None:
            counter = self.attempt_counters[outcome] = self.ctx.metrics.delivery_attempts.labels(outcome)
        return counter

    def _claim_if_due(self, target_id: str) -> None:
        """Wake the claim loop when rows were left behind for want of room that a freed slot now
        offers (else new rows wake it)."""
        if self.more_due or (target_id in self.starved and self.room(target_id) > 0):
            self.starved.discard(target_id)
            self.ctx.signals.wake(DELIVERIES)

    async def _judge(self, gate: TargetGate, succeeded: bool) -> None:
        """The circuit breaker: enough failures in a row open it, for longer each time; its rows not
        sent yet are given back (their attempts are not spent)."""
        if succeeded:
            gate.failures_in_row = 0
            return
        gate.failures_in_row += 1
        if gate.failures_in_row >= BREAKER_THRESHOLD:
            cooldown = min(BREAKER_MAX_COOLDOWN, 2.0 ** (gate.failures_in_row - BREAKER_THRESHOLD + 1))
            gate.open_until = self.clock() + cooldown
            waiting = [delivery_id for delivery_id, _, _ in gate.waiting]
            gate.waiting.clear()
            if waiting:
                await self._release(waiting)

    async def send(self, request: PreparedRequest) -> AttemptResult:
        """One HTTP attempt of a claimed delivery (through the project's egress, if it has one)."""
        production = self.ctx.settings.env == "production"
        egress = request.egress
        sender = self.sender if egress is None else self.egress_senders.sender(egress, production=production)
        return await attempt(
            sender, request.url, request.body, request.headers, request.timeout, production=production
        )

    async def record(
        self, delivery_id: str, url: str, result: AttemptResult, headers: dict[str, str] | None = None
    ) -> None:
        """Log the attempt (with the request ``headers`` as logged) and move the delivery on, if the
        lease is still ours.

        Results arriving together are recorded in one transaction (``GroupCommitter``); when that
        transaction fails, each is recorded in its own.
        """
        if self.recorder is None:
            self.recorder = GroupCommitter(self._record_batch, RECORD_BATCH, "kirem-attempts")
        await self.recorder.submit((delivery_id, url, result, headers))

    async def _record_batch(self, batch: list[Recorded]) -> None:
        try:
            async with self.ctx.db.transaction() as session:
                await self._record_in(session, batch)
        except Exception:
            log.warning("recording %d attempts together failed; one by one", len(batch), exc_info=True)
            for item in batch:
                try:
                    async with self.ctx.db.transaction() as session:
                        await self._record_in(session, [item])
                except Exception:
                    log.exception("delivery %s: recording its attempt failed; its lease will expire", item[0])

    async def _record_in(self, session: AsyncSession, batch: list[Recorded]) -> None:
        """Record a batch of attempts with one statement per table (Core, no unit of work)."""
        now = utcnow()
        outcome = AttemptOutcomes(now)
        stmt = (
            select(
                Delivery.id,
                Delivery.project_id,
                Delivery.event_id,
                Delivery.target_id,
                Delivery.event_type,
                Delivery.attempts,
                Delivery.next_attempt_at,
                WebhookTarget.failing_since,
                WebhookTarget.retry_schedule,
                WebhookTarget.max_attempts,
            )
            .join(WebhookTarget, WebhookTarget.id == Delivery.target_id)
            .where(Delivery.id.in_([item[0] for item in batch]), Delivery.leased_by == self.worker_id)
        )
        queued = {row.id: row for row in await session.execute(stmt)}
        for delivery_id, url, result, headers in batch:
            row = queued.get(delivery_id)
            if row is None:
                log.warning("delivery %s: lease lost before its attempt was recorded", delivery_id)
                continue
            outcome.add(row, url, result, headers)
        await outcome.write(session, self.worker_id)
        for target_id, reason in outcome.disable.items():
            target = await session.get(WebhookTarget, target_id)
            if target is not None:
                await disable_target(session, target, reason, now)


async def disable_target(session: AsyncSession, target: WebhookTarget, reason: str, now: datetime) -> None:
    """Disable a target, park its waiting deliveries as ``skipped``, and tell the project's other targets."""
    if not target.enabled:
        return
    target.enabled = False
    target.disabled_reason = reason
    target.disabled_at = now
    await session.execute(
        update(Delivery)
        .where(
            Delivery.target_id == target.id,
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.leased_by.is_(None),
        )
        .values(status=DeliveryStatus.SKIPPED, updated_at=now)
    )
    await session.flush()
    event = await record_event(
        session,
        project_id=target.project_id,
        type="targets.disabled",
        dedup_key=f"targets.disabled:{target.id}:{now.isoformat()}",
        data={"target_id": target.id, "url": target.url, "reason": reason},
        facts={},
        now=now,
    )
    if event is not None:
        await fan_out(session, event, now=now)
