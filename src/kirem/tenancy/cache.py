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

import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db import cache_invalidation
from kirem.kit import ttl_cache
from kirem.tenancy.models import Account, ApiKey, Channel, Project

TTL_SECONDS = 0.5
"""How long another process's change (a revoked key, a disconnected channel) can go unseen."""
TENANCY_MODELS = (Account, ApiKey, Channel, Project)
_GROUP = ttl_cache.CacheGroup()
_NAME = "tenancy"
cache_invalidation.invalidate_on_commit(_GROUP, TENANCY_MODELS, _NAME)

V = TypeVar("V")


class TtlCache(ttl_cache.TtlCache[V]):
    """A cache of tenancy rows: emptied by :func:`invalidate_all`."""

    def __init__(self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(_GROUP, ttl, clock)


def holds_changes(session: AsyncSession) -> bool:
    """Whether ``session`` changed an account, project, API key or channel and has not committed."""
    return cache_invalidation.holds_changes(session, TENANCY_MODELS, _NAME)


def invalidate_all() -> None:
    _GROUP.invalidate()
