"""Background work of a process: inbound processing, webhook delivery, retention, SLA evaluation,
its heartbeat, and PostgreSQL wake-ups (and routing changes, which empty the routing cache).

``kirem serve`` runs it beside the API; ``kirem worker`` runs it alone, any number of times
against one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kirem.context import AppContext
from kirem.db.base import utcnow
from kirem.delivery.sender import WebhookSender, default_sender
from kirem.delivery.worker import DeliveryWorker
from kirem.enterprise.sla import evaluate_due
from kirem.heartbeat import STALE_INTERVALS, beat, forget
from kirem.pipeline.processor import BATCH_SIZE, claim_pending, process_claimed
from kirem.retention import purge_expired
from kirem.routing import cache as routing_cache
from kirem.signals import CHANNELS, RAW_EVENTS, listen

log = logging.getLogger("kirem.runtime")


class Runtime:
    def __init__(self, ctx: AppContext, sender: WebhookSender | None = None) -> None:
        self.ctx = ctx
        self.sender = sender or default_sender(production=ctx.settings.env == "production")
        self.worker = DeliveryWorker(ctx, self.sender)
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.started_at = utcnow()
        self.heartbeat: asyncio.Task[None] | None = None
        self.last_beat: float | None = None
        """Event-loop time of this process's last recorded heartbeat (``/readyz`` checks it)."""

    async def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._inbound_loop(), name="kirem-inbound"))
        self.tasks.append(asyncio.create_task(self.worker.run(self.stop_event), name="kirem-deliveries"))
        self.tasks.append(asyncio.create_task(self._purge_loop(), name="kirem-retention"))
        self.tasks.append(asyncio.create_task(self._sla_loop(), name="kirem-sla"))
        if not self.ctx.settings.is_sqlite:
            self.ctx.signals.notices[routing_cache.CHANNEL] = routing_cache.on_notice
            self.tasks.append(
                asyncio.create_task(
                    listen(self.ctx.settings.database_url, self.ctx.signals, self.stop_event),
                    name="kirem-listen",
                )
            )
        self.heartbeat = asyncio.create_task(self._heartbeat_loop(), name="kirem-heartbeat")

    async def stop(self) -> None:
        """Stop claiming, let in-flight deliveries finish (or give their rows back), close the sender."""
        self.stop_event.set()
        for channel in CHANNELS:
            self.ctx.signals.wake(channel)
        await asyncio.gather(*self.tasks, *filter(None, [self.heartbeat]), return_exceptions=True)
        with contextlib.suppress(Exception):
            async with self.ctx.db.transaction() as session:
                await forget(session, self.worker.worker_id)
        await self.sender.aclose()

    async def _inbound_loop(self) -> None:
        """Process raw events in rounds, each batch's transaction leasing the next batch.

        A claim of its own is made only after a wait (woken, or the poll): then nothing was pending
        when the last batch ended. When stopping, the batch already leased is processed first.
        """
        claimed: list[int] = []
        while claimed or not self.stop_event.is_set():
            ahead = 0 if self.stop_event.is_set() else BATCH_SIZE
            try:
                if claimed:
                    claimed = await process_claimed(self.ctx, claimed, self.worker, ahead)
                else:
                    claimed = await claim_pending(self.ctx)
            except Exception:
                log.exception("inbound processing failed; retrying")
                claimed = []
            if not claimed and not self.stop_event.is_set():
                await self.ctx.signals.wait(RAW_EVENTS, 1.0)

    async def _purge_loop(self) -> None:
        """Apply log retention now and then every ``purge_interval_seconds`` until stopped."""
        while not self.stop_event.is_set():
            try:
                await purge_expired(self.ctx)
            except Exception:
                log.exception("retention purge failed; retrying at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.ctx.settings.purge_interval_seconds)

    async def _sla_loop(self) -> None:
        """Evaluate due SLA policies every ``sla_interval_seconds`` (each policy by one process)."""
        while not self.stop_event.is_set():
            try:
                await evaluate_due(self.ctx, utcnow())
            except Exception:
                log.exception("SLA evaluation failed; retrying at the next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.ctx.settings.sla_interval_seconds)

    async def _heartbeat_loop(self) -> None:
        """Beat while every background loop runs: a crashed loop stops the beat, and readiness."""
        loop = asyncio.get_running_loop()
        while not self.stop_event.is_set():
            if all(not task.done() for task in self.tasks):
                try:
                    async with self.ctx.db.transaction() as session:
                        await beat(session, self.worker.worker_id, self.started_at, utcnow())
                    self.last_beat = loop.time()
                except Exception:
                    log.exception("recording the worker heartbeat failed; retrying")
            else:
                log.error("a background loop has stopped: no heartbeat until the process restarts")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.ctx.settings.heartbeat_seconds)

    def beating(self) -> bool:
        """Whether this process's heartbeat is recent (within three intervals)."""
        if self.last_beat is None:
            return False
        age = asyncio.get_running_loop().time() - self.last_beat
        return age <= STALE_INTERVALS * self.ctx.settings.heartbeat_seconds
