"""Background work of a process: inbound processing, webhook delivery, and PostgreSQL wake-ups.

``kirem serve`` runs it beside the API; ``kirem worker`` runs it alone, any number of times
against one PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kirem.context import AppContext
from kirem.inbound.processor import process_pending
from kirem.retention import purge_expired
from kirem.routing.sender import WebhookSender, default_sender
from kirem.routing.worker import DeliveryWorker
from kirem.signals import CHANNELS, RAW_EVENTS, listen

log = logging.getLogger("kirem.runtime")


class Runtime:
    def __init__(self, ctx: AppContext, sender: WebhookSender | None = None) -> None:
        self.ctx = ctx
        self.sender = sender or default_sender()
        self.worker = DeliveryWorker(ctx, self.sender)
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._inbound_loop(), name="kirem-inbound"))
        self.tasks.append(asyncio.create_task(self.worker.run(self.stop_event), name="kirem-deliveries"))
        self.tasks.append(asyncio.create_task(self._purge_loop(), name="kirem-retention"))
        if not self.ctx.settings.is_sqlite:
            self.tasks.append(
                asyncio.create_task(
                    listen(self.ctx.settings.database_url, self.ctx.signals, self.stop_event),
                    name="kirem-listen",
                )
            )

    async def stop(self) -> None:
        """Stop claiming, let in-flight deliveries finish (or give their rows back), close the sender."""
        self.stop_event.set()
        for channel in CHANNELS:
            self.ctx.signals.wake(channel)
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.sender.aclose()

    async def _inbound_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                processed = await process_pending(self.ctx)
            except Exception:
                log.exception("inbound processing failed; retrying")
                processed = 0
            if processed == 0:
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
