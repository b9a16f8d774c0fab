"""The delivery worker: claims due deliveries with a lease, sends them, records every attempt.

The ``deliveries`` table is the queue. A claim sets ``leased_by`` and a lease longer than any
request timeout; on PostgreSQL rows are picked ``FOR UPDATE SKIP LOCKED`` so several workers never
take the same row, on SQLite the claiming ``UPDATE`` itself re-checks the lease under SQLite's
single writer. An attempt's result is written only while the worker still holds the lease.

One slow or dead target cannot hold up the others: each target has at most
``per_target_concurrency`` attempts in flight, and after ``BREAKER_THRESHOLD`` failures in a row its
circuit opens — its deliveries wait (their attempts are not spent) while one probe at a time tests
whether it is back. Other targets' rows keep being claimed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.db.group_commit import GroupCommitter
from kirem.delivery.attempts import attempt, logged_headers, signed_request
from kirem.delivery.egress import EgressSenders
from kirem.delivery.enqueue import fan_out
from kirem.delivery.models import Delivery, DeliveryAttempt
from kirem.delivery.schedule import DEFAULT_SCHEDULE, next_delay
from kirem.delivery.secret import signing_secrets
from kirem.delivery.sender import AttemptResult, WebhookSender
from kirem.inbound.events import record_event
from kirem.inbound.models import Event
from kirem.kit.enums import DeliveryStatus
from kirem.routing.models import WebhookTarget
from kirem.signals import DELIVERIES
from kirem.tenancy.egress import Egress, project_egress
from kirem.tenancy.models import Account, Project
from kirem.usage import meter as usage

log = logging.getLogger("kirem.worker")

FAILING_DISABLES_AFTER = timedelta(days=5)
BREAKER_THRESHOLD = 5
BREAKER_MAX_COOLDOWN = 300.0
POLL_SECONDS = 1.0
RECORD_BATCH = 200

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


@dataclass
class DeliveryWorker:
    ctx: AppContext
    sender: WebhookSender
    per_target_concurrency: int = 4
    batch_size: int = 100
    max_in_flight: int = 200
    clock: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    worker_id: str = field(default_factory=lambda: "wrk_" + secrets.token_hex(6))
    gates: dict[str, TargetGate] = field(default_factory=lambda: defaultdict(TargetGate))
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    egress_senders: EgressSenders = field(default_factory=EgressSenders)
    """Senders of projects whose deliveries leave from a dedicated address or proxy."""
    recorder: GroupCommitter[Recorded] | None = None

    @property
    def lease(self) -> timedelta:
        """Longer than the longest target timeout, so a live attempt never loses its row."""
        return timedelta(seconds=self.ctx.settings.delivery_lease_seconds)

    def room(self, target_id: str) -> int:
        """How many more attempts this target may have in flight now (0 while its circuit is open)."""
        gate = self.gates.get(target_id)
        if gate is None:
            return self.per_target_concurrency
        if gate.failures_in_row >= BREAKER_THRESHOLD:
            half_open = self.clock() >= gate.open_until
            return 1 - gate.in_flight if half_open and gate.in_flight == 0 else 0
        return self.per_target_concurrency - gate.in_flight

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
        for delivery_id, target_id in (await session.execute(due)).all():
            left = room.setdefault(target_id, self.room(target_id))
            if left > 0 and len(picked) < limit:
                picked.append(delivery_id)
                room[target_id] = left - 1
        if not picked:
            await session.commit()
            return []
        claimed = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(picked), Delivery.status == DeliveryStatus.PENDING)
            .where(or_(Delivery.lease_expires_at.is_(None), Delivery.lease_expires_at < now))
            .values(lease_expires_at=now + self.lease, leased_by=self.worker_id)
            .returning(Delivery.id, Delivery.target_id)
        )
        rows = [(row[0], row[1]) for row in claimed]
        await session.commit()
        return rows

    async def run_once(self) -> int:
        """Claim what is due (within the gates) and start the attempts; return how many started."""
        room = self.max_in_flight - len(self.tasks)
        if room <= 0:
            return 0
        async with self.ctx.db.session() as session:
            claimed = await self.claim(session, min(room, self.batch_size))
            requests = await self.prepare(session, [delivery_id for delivery_id, _ in claimed])
        for delivery_id, target_id in claimed:
            self.gates[target_id].in_flight += 1
            task = asyncio.create_task(
                self._attempt_guarded(delivery_id, target_id, requests.get(delivery_id))
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return len(claimed)

    async def prepare(self, session: AsyncSession, delivery_ids: list[str]) -> dict[str, PreparedRequest]:
        """The signed requests of claimed deliveries, read with one query for the batch.

        Each project's signing secrets and egress are opened once per batch. A delivery of a target
        disabled meanwhile is kept as ``skipped``; one no longer pending (or no longer ours) gets
        no request, so nothing is sent for it.
        """
        if not delivery_ids:
            return {}
        stmt = (
            select(Delivery, Event, WebhookTarget, Project, Account)
            .join(Event, Event.id == Delivery.event_id)
            .join(WebhookTarget, WebhookTarget.id == Delivery.target_id)
            .join(Project, Project.id == Delivery.project_id)
            .join(Account, Account.id == Project.account_id)
            .where(Delivery.id.in_(delivery_ids), Delivery.leased_by == self.worker_id)
        )
        now = utcnow()
        opened: dict[str, tuple[list[str], Egress | None]] = {}
        requests: dict[str, PreparedRequest] = {}
        skipped: list[str] = []
        for delivery, event, target, project, account in await session.execute(stmt):
            if delivery.status != "pending":
                continue
            if not target.enabled:
                skipped.append(delivery.id)
                continue
            try:
                requests[delivery.id] = self._signed(target, project, account, delivery, event, now, opened)
            except Exception:
                log.exception(
                    "delivery %s: its request could not be prepared; its lease will expire", delivery.id
                )
        if skipped:
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(skipped), Delivery.leased_by == self.worker_id)
                .values(status="skipped", lease_expires_at=None, leased_by=None)
            )
        await session.commit()
        return requests

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
        """Let in-flight attempts finish; past ``grace`` cancel them and give their rows back."""
        if not self.tasks:
            return
        _, pending = await asyncio.wait(set(self.tasks), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _release(self, delivery_id: str) -> None:
        async with self.ctx.db.transaction() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.leased_by == self.worker_id)
                .values(lease_expires_at=None, leased_by=None)
            )

    def _signed(
        self,
        target: WebhookTarget,
        project: Project,
        account: Account,
        delivery: Delivery,
        event: Event,
        now: datetime,
        opened: dict[str, tuple[list[str], Egress | None]],
    ) -> PreparedRequest:
        """A delivery's request; ``opened`` keeps each project's secrets and egress for the batch."""
        if project.id not in opened:
            sealer = self.ctx.sealer
            opened[project.id] = (
                signing_secrets(sealer, project, now),
                project_egress(sealer, project, account),
            )
        secrets, egress = opened[project.id]
        body, headers = signed_request(
            self.ctx.sealer,
            target,
            project,
            event_id=event.id,
            delivery_id=delivery.id,
            event_type=event.type,
            kirem_body=event.kirem_body,
            meta_body=event.meta_body,
            now=now,
            secrets=secrets,
        )
        return PreparedRequest(target.url, target.timeout_seconds, body, headers, egress)

    async def _attempt_guarded(
        self, delivery_id: str, target_id: str, request: PreparedRequest | None
    ) -> None:
        """Send, free the target's slot, then record: the next attempt need not wait for the commit."""
        gate = self.gates[target_id]
        try:
            try:
                result = await self.send(request) if request is not None else None
            finally:
                gate.in_flight -= 1
            if request is not None and result is not None:
                self._judge(gate, result.is_success)
                self.ctx.signals.wake(DELIVERIES)
                await self.record(delivery_id, request.url, result, logged_headers(request.headers))
                outcome = "success" if result.is_success else "gone" if result.gone else "failure"
                self.ctx.metrics.delivery_attempts.labels(outcome).inc()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(delivery_id))
            raise
        except Exception:
            log.exception("delivery %s attempt crashed; its lease will expire", delivery_id)
        self.ctx.signals.wake(DELIVERIES)

    def _judge(self, gate: TargetGate, succeeded: bool) -> None:
        """The circuit breaker: enough failures in a row open it, for longer each time."""
        if succeeded:
            gate.failures_in_row = 0
            return
        gate.failures_in_row += 1
        if gate.failures_in_row >= BREAKER_THRESHOLD:
            cooldown = min(BREAKER_MAX_COOLDOWN, 2.0 ** (gate.failures_in_row - BREAKER_THRESHOLD + 1))
            gate.open_until = self.clock() + cooldown

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
        ids = [item[0] for item in batch]
        deliveries = {
            d.id: d
            for d in (
                await session.execute(
                    select(Delivery).where(Delivery.id.in_(ids), Delivery.leased_by == self.worker_id)
                )
            ).scalars()
        }
        target_ids = {d.target_id for d in deliveries.values()}
        targets = {
            t.id: t
            for t in (
                await session.execute(select(WebhookTarget).where(WebhookTarget.id.in_(target_ids)))
            ).scalars()
        }
        now = utcnow()
        attempts: Counter[str] = Counter()
        for delivery_id, url, result, headers in batch:
            delivery = deliveries.get(delivery_id)
            if delivery is None:
                log.warning("delivery %s: lease lost before its attempt was recorded", delivery_id)
                continue
            await self._apply(session, delivery, targets[delivery.target_id], url, result, headers, now)
            attempts[delivery.project_id] += 1
        for project_id, count in sorted(attempts.items()):
            await usage.count(session, project_id, {usage.ATTEMPTS: count}, now)

    async def _apply(
        self,
        session: AsyncSession,
        delivery: Delivery,
        target: WebhookTarget,
        url: str,
        result: AttemptResult,
        headers: dict[str, str] | None,
        now: datetime,
    ) -> None:
        delivery.attempts += 1
        session.add(
            DeliveryAttempt(
                project_id=delivery.project_id,
                delivery_id=delivery.id,
                event_id=delivery.event_id,
                target_id=delivery.target_id,
                event_type=delivery.event_type,
                url=url,
                attempt=delivery.attempts,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                is_success=result.is_success,
                error=result.error,
                response_body=result.response_body,
                request_headers=headers,
                created_at=now,
            )
        )
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
        delivery.lease_expires_at = None
        delivery.leased_by = None
        if result.is_success:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.completed_at = now
            target.failing_since = None
            return
        if result.gone:
            delivery.status = DeliveryStatus.FAILED
            delivery.completed_at = now
            await disable_target(session, target, "the endpoint answered 410 Gone", now)
            return
        target.failing_since = target.failing_since or now
        if now - target.failing_since >= FAILING_DISABLES_AFTER:
            delivery.status = DeliveryStatus.FAILED
            delivery.completed_at = now
            await disable_target(session, target, "every delivery failed for 5 days", now)
            return
        delay = next_delay(
            delivery.attempts,
            schedule=tuple(target.retry_schedule or DEFAULT_SCHEDULE),
            max_attempts=target.max_attempts,
            retry_after=result.retry_after,
        )
        if delay is None:
            delivery.status = DeliveryStatus.FAILED
            delivery.completed_at = now
        else:
            delivery.next_attempt_at = now + timedelta(seconds=delay)


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
