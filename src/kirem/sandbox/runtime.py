"""What one sandbox app holds while it runs: clock, background tasks, the webhook outbox, throughput."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import httpx

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.lookups import SendLookups
from kirem.sandbox.outbox import WebhookOutbox
from kirem.sandbox.send_log import SendLog
from kirem.sandbox.webhooks import WebhookSender

log = logging.getLogger("kirem.sandbox")

Clock = Callable[[], datetime]

IDLE_POLL_SECONDS = 0.01
MOUNT_PATH = "/sandbox"
"""Where the host app mounts the sandbox; media download URLs point below it."""


class ThroughputLimiter:
    """At most ``limit`` events per key within any ``window`` seconds (Meta's per-number throughput)."""

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float) -> bool:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True


class SandboxRuntime:
    """State shared by the sandbox's routes and the tasks they schedule.

    Webhooks go through the durable :class:`WebhookOutbox`, whose loop starts with the runtime;
    template reviews run as tasks tracked here. :meth:`idle` waits until the tasks are done and the
    outbox is empty (tests use it), :meth:`aclose` stops the loop, cancels what is left and closes
    the HTTP client it created. The host app calls :meth:`ensure_started` and :meth:`aclose` from its
    lifespan, since a mounted app's lifespan never runs.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        http_client: httpx.AsyncClient,
        owns_client: bool,
        clock: Clock,
        webhooks: WebhookSender,
        app_secret: str,
    ) -> None:
        self.settings = settings
        self.app_secret = app_secret
        self.database = database
        self.http_client = http_client
        self.clock = clock
        self.webhooks = webhooks
        self.outbox = WebhookOutbox(
            database, webhooks, clock, lease_seconds=settings.sandbox_webhook_lease_seconds
        )
        self._outbox_loop: asyncio.Task[None] | None = None
        self.send_log = SendLog(database)
        self.lookups = SendLookups()
        self.throughput = ThroughputLimiter(settings.sandbox_throughput_per_second)
        self._owns_client = owns_client
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closed = False
        self.on_start: list[Callable[[SandboxRuntime], None]] = []

    def now(self) -> datetime:
        return self.clock()

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str | None = None) -> asyncio.Task[Any] | None:
        if self._closed:
            coro.close()
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    @property
    def pending(self) -> frozenset[asyncio.Task[Any]]:
        """Background tasks still running."""
        return frozenset(self._tasks)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("sandbox background task %s failed", task.get_name(), exc_info=exc)

    def ensure_started(self) -> None:
        """Start the outbox loop and run the start hooks, once (the host's startup, or a first request)."""
        if self._started or self._closed:
            return
        self._started = True
        self._outbox_loop = asyncio.get_running_loop().create_task(self.outbox.run(), name="sandbox-outbox")
        for hook in self.on_start:
            hook(self)

    async def idle(self) -> None:
        """Wait until every template review has finished and Kirem has accepted every webhook."""
        self.ensure_started()
        while True:
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            if await self.outbox.waiting() == 0 and not self._tasks:
                return
            self.outbox.wake()
            await asyncio.sleep(IDLE_POLL_SECONDS)

    async def aclose(self) -> None:
        """Stop; webhooks not yet accepted stay in the outbox for the next start."""
        self._closed = True
        await self.send_log.aclose()
        if self._outbox_loop is not None:
            await self.outbox.stop(self._outbox_loop)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            await self.http_client.aclose()
