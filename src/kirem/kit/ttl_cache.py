"""Short-lived copies of hot-path lookups, emptied together when what they copy changes.

A :class:`TtlCache` keeps what a lookup found for ``ttl`` seconds. Caches of one
:class:`CacheGroup` are emptied at once by :meth:`CacheGroup.invalidate` (a change committed in
this process); a change made elsewhere is seen once the entry expires. Only what was found is kept,
and a lookup that started before an invalidation does not store its (possibly stale) answer.
Requests that miss the same entry at the same time share one lookup (:meth:`TtlCache.load`). Only
an answer is shared: the lookup runs on its loader's session, so when it fails or its loader is
cancelled (a client gone mid-query) the waiters look up again on their own sessions instead of
inheriting a failure that belongs to another request's connection.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

MAX_ENTRIES = 4096
"""Entries per cache at most (emptied when full): memory stays flat however many keys are used."""

V = TypeVar("V")


class CacheGroup:
    """Caches emptied together; :attr:`generation` counts the invalidations. Holds its caches weakly:
    a cache goes with its owner (a sandbox runtime, say)."""

    def __init__(self) -> None:
        self.generation = 0
        self._caches: weakref.WeakSet[TtlCache[Any]] = weakref.WeakSet()

    def add(self, cache: TtlCache[Any]) -> None:
        self._caches.add(cache)

    def invalidate(self) -> None:
        self.generation += 1
        for cache in list(self._caches):
            cache.clear()


class TtlCache(Generic[V]):
    """Values by key for ``ttl`` seconds, emptied with the rest of ``group``."""

    def __init__(self, group: CacheGroup, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.group = group
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[Any, tuple[float, V]] = {}
        self._loading: dict[Any, asyncio.Future[V | None]] = {}
        group.add(self)

    def get(self, key: Any) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self.clock():
            self._entries.pop(key, None)
            return None
        return entry[1]

    async def load(
        self,
        key: Any,
        lookup: Callable[[], Awaitable[V | None]],
        *,
        cached: bool = True,
        alone: bool = False,
    ) -> V | None:
        """The entry (unless ``cached`` is false), else what ``lookup`` finds, kept when found.

        A miss while another request's lookup of the same key runs waits for that lookup's answer
        instead of querying again; if that lookup ends without one (failed, or its caller was
        cancelled), the waiter looks up itself. ``alone`` runs ``lookup`` apart from the cache.
        """
        if alone:
            return await lookup()
        if cached and (value := self.get(key)) is not None:
            return value
        while (running := self._loading.get(key)) is not None:
            await asyncio.wait([running])
            if not running.cancelled():
                return running.result()
        answer: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._loading[key] = answer
        seen = self.group.generation
        try:
            value = await lookup()
        except BaseException:
            answer.cancel()  # no answer: each waiter looks up on its own session
            raise
        finally:
            self._loading.pop(key, None)
        if value is not None:
            self.put(key, value, seen)
        answer.set_result(value)
        return value

    def put(self, key: Any, value: V, generation: int) -> None:
        """Keep ``value`` unless the group was invalidated since ``generation`` was read."""
        if generation != self.group.generation:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()
