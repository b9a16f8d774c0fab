"""The sandbox's outbox: every webhook it owes Kirem stays a database row until Kirem accepts it.

Whatever makes the sandbox post a webhook (a simulated customer message, an echo, a history chunk,
contact changes, a send's ``sent``/``delivered``/``read`` or ``failed`` statuses, a template
review) writes the webhook with :func:`enqueue` in the same transaction as the change it reports,
so an answered request always has its webhook on disk, whatever happens to the process next.

:class:`WebhookOutbox` posts due rows and deletes each once Kirem answers 2xx (the rows accepted
together are deleted in one transaction). A failed post (no
connection, a timeout, any other answer) is retried after :data:`RETRY_DELAYS` (the last one
repeating) until it is accepted or, like Meta, after :data:`GIVE_UP_AFTER`. Rows of one lane go one
at a time, in the order they were written. A claimed row is leased: on PostgreSQL it is picked
``FOR UPDATE SKIP LOCKED`` and the claiming ``UPDATE`` re-checks the lease (as the delivery worker
does), so two processes never post the same row at once; a row whose process died is taken again
once its lease expires, and a new process picks up every row left on startup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Delete,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.engine import Database
from kirem.db.group_commit import GroupCommitter
from kirem.meta.signatures import webhook_body
from kirem.sandbox.models import SandboxOutbox
from kirem.sandbox.webhooks import WebhookSender

log = logging.getLogger("kirem.sandbox")

RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0)
"""Seconds before the 1st, 2nd, … retry of a failed post; then every 300 s."""
GIVE_UP_AFTER = timedelta(days=7)
"""Meta stops retrying a webhook seven days after the event."""
POLL_SECONDS = 1.0
MIN_WAIT_SECONDS = 0.01
BATCH_SIZE = 50
MAX_IN_FLIGHT = 32


OUTBOX = cast("Table", SandboxOutbox.__table__)
"""The outbox as a Core table: the loop's statements are built once, with no ORM work per round."""


def _head_of_lane(*, excluding_posting: bool) -> tuple[ColumnElement[bool], ...]:
    """Rows no earlier row of their lane is waiting before, and that no live lease holds at ``:now``
    (nor, ``excluding_posting``, one of the ``:posting`` ids this process is still posting)."""
    earlier = OUTBOX.alias()
    conditions = (
        or_(OUTBOX.c.lease_expires_at.is_(None), OUTBOX.c.lease_expires_at < bindparam("now")),
        ~exists().where(earlier.c.lane == OUTBOX.c.lane, earlier.c.id < OUTBOX.c.id),
    )
    if excluding_posting:
        return (*conditions, OUTBOX.c.id.not_in(bindparam("posting", expanding=True)))
    return conditions


def _claim_statement(*, excluding_posting: bool) -> Update:
    """Lease up to ``:limit`` due rows to ``:worker_id`` until ``:until``, at most one per lane
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite renders no locking clause)."""
    due = (
        select(OUTBOX.c.id)
        .where(OUTBOX.c.due_at <= bindparam("now"), *_head_of_lane(excluding_posting=excluding_posting))
        .order_by(OUTBOX.c.due_at, OUTBOX.c.id)
        .limit(bindparam("limit", type_=Integer))
        .with_for_update(skip_locked=True)
    )
    return (
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(due.scalar_subquery()))
        .values(leased_by=bindparam("worker_id"), lease_expires_at=bindparam("until"))
        .returning(OUTBOX.c.id, OUTBOX.c.body, OUTBOX.c.attempts, OUTBOX.c.created_at)
    )


def _next_due_statement(*, excluding_posting: bool) -> Select[datetime | None]:
    return select(func.min(OUTBOX.c.due_at)).where(*_head_of_lane(excluding_posting=excluding_posting))


CLAIM = {excluding: _claim_statement(excluding_posting=excluding) for excluding in (False, True)}
"""The claim, by whether rows this process is still posting must be left out."""
NEXT_DUE = {excluding: _next_due_statement(excluding_posting=excluding) for excluding in (False, True)}
DELETE_ACCEPTED: Delete = delete(OUTBOX).where(
    OUTBOX.c.id.in_(bindparam("ids", expanding=True)), OUTBOX.c.leased_by == bindparam("worker_id")
)


def outbox_row(
    *, lane: str, payload: dict[str, Any], now: datetime, due_at: datetime | None = None
) -> dict[str, Any]:
    """The outbox row owing Kirem ``payload``, due at ``due_at`` (default ``now``)."""
    return {
        "lane": lane,
        "body": webhook_body(payload).decode(),
        "due_at": due_at or now,
        "attempts": 0,
        "created_at": now,
    }


def enqueue(
    session: AsyncSession,
    *,
    lane: str,
    payload: dict[str, Any],
    now: datetime,
    due_at: datetime | None = None,
) -> None:
    """Owe Kirem ``payload``, posted at ``due_at`` (default ``now``) after the lane's earlier rows."""
    session.add(SandboxOutbox(**outbox_row(lane=lane, payload=payload, now=now, due_at=due_at)))


def retry_delay(failures: int, delays: Sequence[float] = RETRY_DELAYS) -> float:
    """Seconds to wait after the ``failures``-th failed post of a row (``failures`` >= 1)."""
    return delays[min(failures, len(delays)) - 1]


@dataclass(frozen=True)
class Claimed:
    id: int
    body: str
    attempts: int
    created_at: datetime


class WebhookOutbox:
    """Posts the outbox's due rows with leases; :meth:`run` loops, :meth:`run_once` does one round."""

    def __init__(
        self,
        database: Database,
        sender: WebhookSender,
        clock: Callable[[], datetime],
        *,
        lease_seconds: float,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        worker_id: str | None = None,
    ) -> None:
        self.database = database
        self.sender = sender
        self.clock = clock
        self.lease = timedelta(seconds=lease_seconds)
        self.retry_delays = tuple(retry_delays)
        self.worker_id = worker_id or "sbx_" + secrets.token_hex(6)
        self._wakeup = asyncio.Event()
        self._posting: dict[int, asyncio.Task[None]] = {}
        self._awaiting_answer: dict[int, asyncio.Task[None]] = {}
        self._stopping = False
        self._accepted = GroupCommitter(self._delete_accepted, BATCH_SIZE, "sandbox-outbox-accepted")

    def wake(self) -> None:
        """Look for due rows now (called after a transaction that enqueued some committed)."""
        self._wakeup.set()

    def _round_parameters(self, now: datetime) -> dict[str, Any]:
        """The bound values of :data:`CLAIM` and :data:`NEXT_DUE` at ``now``."""
        parameters: dict[str, Any] = {"now": now}
        if self._posting:
            parameters["posting"] = list(self._posting)
        return parameters

    async def claim(self, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due rows, at most one per lane, in one statement."""
        now = self.clock()
        parameters = self._round_parameters(now)
        parameters |= {"limit": limit, "worker_id": self.worker_id, "until": now + self.lease}
        async with self.database.session() as session:
            claimed = await session.execute(CLAIM[bool(self._posting)], parameters)
            rows = [Claimed(*row) for row in claimed]
            await session.commit()
        return sorted(rows, key=lambda row: row.id)

    async def post(self, row: Claimed) -> bool:
        """One attempt at a claimed row; True when Kirem accepted it."""
        error = await self.sender.attempt(row.body.encode())
        await self.record(row, error)
        return error is None

    async def record(self, row: Claimed, error: str | None) -> None:
        """Delete an accepted row or schedule its retry, only while the lease is still ours."""
        now = self.clock()
        if error is None:
            await self._accepted.submit(row.id)
            return
        mine = (SandboxOutbox.id == row.id, SandboxOutbox.leased_by == self.worker_id)
        async with self.database.transaction() as session:
            failures = row.attempts + 1
            if now - row.created_at >= GIVE_UP_AFTER:
                log.warning(
                    "sandbox webhook %d dropped after %d failed attempts (%s)", row.id, failures, error
                )
                await session.execute(delete(SandboxOutbox).where(*mine))
                return
            delay = retry_delay(failures, self.retry_delays)
            log.info(
                "sandbox webhook %d to %s failed (%s); retry in %.1fs", row.id, self.sender.url, error, delay
            )
            await session.execute(
                update(SandboxOutbox)
                .where(*mine)
                .values(
                    attempts=failures,
                    due_at=now + timedelta(seconds=delay),
                    last_error=error[:500],
                    leased_by=None,
                    lease_expires_at=None,
                )
            )

    async def _delete_accepted(self, row_ids: list[int]) -> None:
        """Rows Kirem accepted together, deleted in one transaction (while their leases are ours)."""
        async with self.database.batch_transaction() as session:
            await session.execute(DELETE_ACCEPTED, {"ids": row_ids, "worker_id": self.worker_id})

    async def release(self, row_id: int) -> None:
        """Give a claimed row back at once (a clean stop), so the next process need not wait out the lease."""
        async with self.database.transaction() as session:
            await session.execute(
                update(SandboxOutbox)
                .where(SandboxOutbox.id == row_id, SandboxOutbox.leased_by == self.worker_id)
                .values(leased_by=None, lease_expires_at=None)
            )

    async def run_once(self) -> int:
        """Claim what is due and post it, waiting for the posts; returns how many were attempted."""
        rows = await self.claim(BATCH_SIZE)
        await asyncio.gather(*(self.post(row) for row in rows))
        return len(rows)

    async def run(self) -> None:
        """Post due rows until :meth:`stop`."""
        while not self._stopping:
            room = MAX_IN_FLIGHT - len(self._posting)
            started = 0
            try:
                if room > 0:
                    started = self._start(await self.claim(min(room, BATCH_SIZE)))
                wait = POLL_SECONDS if started or room <= 0 else await self._seconds_to_next_due()
            except Exception:
                log.exception("sandbox outbox round failed; retrying")
                wait = POLL_SECONDS
            if not started and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), wait)
                self._wakeup.clear()

    async def stop(self, loop: asyncio.Task[None]) -> None:
        """End :meth:`run` between two rounds; posts under way are abandoned and their rows given back.

        Nothing is cancelled inside a database transaction: the loop ends at its next wait, and a post
        is cancelled only while it waits for Kirem's answer.
        """
        self._stopping = True
        self.wake()
        await loop
        for task in self._awaiting_answer.values():
            task.cancel()
        await asyncio.gather(*self._posting.values(), return_exceptions=True)
        await self._accepted.aclose()

    def _start(self, rows: list[Claimed]) -> int:
        for row in rows:
            task = asyncio.get_running_loop().create_task(
                self._post_guarded(row), name=f"sandbox-webhook-{row.id}"
            )
            self._posting[row.id] = task
        return len(rows)

    async def _post_guarded(self, row: Claimed) -> None:
        task = asyncio.current_task()
        assert task is not None
        try:
            self._awaiting_answer[row.id] = task
            try:
                error = await self.sender.attempt(row.body.encode())
            except asyncio.CancelledError:
                await self.release(row.id)
                return
            finally:
                self._awaiting_answer.pop(row.id, None)
            await self.record(row, error)
        except Exception:
            log.exception("sandbox webhook %d: attempt crashed; its lease will expire", row.id)
        finally:
            self._posting.pop(row.id, None)
            self.wake()

    async def _seconds_to_next_due(self) -> float:
        parameters = self._round_parameters(self.clock())
        async with self.database.session() as session:
            due = await session.scalar(NEXT_DUE[bool(self._posting)], parameters)
        if due is None:
            return POLL_SECONDS
        return min(max((due - self.clock()).total_seconds(), MIN_WAIT_SECONDS), POLL_SECONDS)

    async def waiting(self) -> int:
        """Rows not yet accepted by Kirem."""
        async with self.database.session() as session:
            return int(await session.scalar(select(func.count()).select_from(SandboxOutbox)) or 0)
