"""What one sandbox app holds while it runs: clock, background tasks, webhook sender, throughput."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import httpx

from kirem.config import Settings
from kirem.db.engine import Database
from kirem.sandbox.webhooks import WebhookSender

log = logging.getLogger("kirem.sandbox")

Clock = Callable[[], datetime]

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

    Webhook posts and template reviews run as tasks tracked here: :meth:`idle` waits for all of
    them (tests use it), :meth:`aclose` cancels what is left and closes the HTTP client it created.
    The host app calls :meth:`aclose` from its lifespan, since a mounted app's lifespan never runs.
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
        self.throughput = ThroughputLimiter(settings.sandbox_throughput_per_second)
        self._owns_client = owns_client
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lanes: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
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

    def lane(self, key: str) -> asyncio.Lock:
        """A lock per key, so posts that must keep their order (one conversation) run one at a time."""
        lock = self._lanes.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._lanes[key] = lock
        return lock

    def ensure_started(self) -> None:
        """Runs the start hooks once, on the first request (a mounted app gets no startup event)."""
        if self._started:
            return
        self._started = True
        for hook in self.on_start:
            hook(self)

    async def idle(self) -> None:
        """Wait until every scheduled webhook post and template review has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._owns_client:
            await self.http_client.aclose()
