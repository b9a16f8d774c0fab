"""Short-lived copies of API keys and channels for the hot path, dropped whenever they change.

Every send authenticates its key and finds its channel; both are read far more often than they
change. Here a found key (with its project and account) and a project's active channels are kept
for :data:`TTL_SECONDS`:

- a change committed by this process to an account, project, API key or channel (a key revoked, a
  channel disconnected, a plan changed) empties the caches at its commit, so the next request reads
  the database again;
- a change made by another process (the CLI, another API process) is seen once the entry expires,
  within :data:`TTL_SECONDS`, on either engine;
- only what was found is kept: an unknown key or channel is always looked up, so a key or channel
  created elsewhere works at once.

A lookup that started before an invalidation does not store its (possibly stale) answer. Requests
that miss the same entry at the same time share one lookup (:meth:`TtlCache.load`): when an entry
expires under load, one query refreshes it instead of one per waiting request. Only an answer is
shared: the lookup runs on its loader's session, so when it fails or its loader is cancelled (a
client gone mid-query) the waiters look up again on their own sessions instead of inheriting a
failure that belongs to another request's connection. A session holding uncommitted tenancy
changes reads its own view alone (:func:`holds_changes`): what it sees may be rolled back, so it is
neither served from the cache nor shared nor kept.
The cached ORM objects are detached copies: callers read them and never add them to a session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from kirem.tenancy.models import Account, ApiKey, Channel, Project

TTL_SECONDS = 0.5
"""How long another process's change (a revoked key, a disconnected channel) can go unseen."""
MAX_ENTRIES = 4096
"""Entries per cache at most (emptied when full): memory stays flat however many keys are used."""
TENANCY_MODELS = (Account, ApiKey, Channel, Project)
_CHANGED = "kirem_tenancy_changed"

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Values by key for ``ttl`` seconds; :func:`invalidate_all` empties every instance at once."""

    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[Any, tuple[float, V]] = {}
        self._loading: dict[Any, asyncio.Future[V | None]] = {}
        _caches.append(self)

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
        seen = generation()
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
        """Keep ``value`` unless the caches were invalidated since ``generation`` was read."""
        if generation != _generation[0]:
            return
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[key] = (self.clock() + self.ttl, value)

    def clear(self) -> None:
        self._entries.clear()


_caches: list[TtlCache[Any]] = []
_generation = [0]


def generation() -> int:
    """Read before a lookup whose answer will be :meth:`TtlCache.put`."""
    return _generation[0]


def holds_changes(session: AsyncSession) -> bool:
    """Whether ``session`` changed an account, project, API key or channel and has not committed."""
    if session.info.get(_CHANGED, False):
        return True
    return any(isinstance(row, TENANCY_MODELS) for row in (*session.new, *session.dirty, *session.deleted))


def invalidate_all() -> None:
    _generation[0] += 1
    for cache in _caches:
        cache.clear()


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, TENANCY_MODELS) for row in changed):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    changes = state.is_update or state.is_delete
    if changes and mapper is not None and issubclass(mapper.class_, TENANCY_MODELS):
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _invalidate_on_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        invalidate_all()


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_CHANGED, None)
