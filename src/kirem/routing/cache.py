"""Each project's targets and rules, cached per process for the processing pipeline.

Processing routes every event; targets and rules change rarely. A project's routing is kept until
it changes:

- a change committed by this process to a target or rule (the API, a plan change, the worker
  disabling a failing target) drops the project's entry at its commit — a bulk ``UPDATE``/``DELETE``
  drops every entry (:mod:`kirem.routing.changes`);
- on PostgreSQL the same commit sends ``NOTIFY kirem_routing`` with the project id, from any
  process, and every process listening (:mod:`kirem.runtime`) drops its entry as soon as the notice
  arrives;
- as a safety net an entry lives at most :data:`SQLITE_TTL_SECONDS` on SQLite (where a CLI process
  cannot notify) and :data:`POSTGRES_TTL_SECONDS` on PostgreSQL.

A lookup that started before an invalidation does not store its (possibly stale) answer.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.routing import changes
from kirem.routing.changes import CHANNEL, EVERY_PROJECT
from kirem.routing.decide import ProjectRouting, routing_from
from kirem.routing.models import RoutingRule, WebhookTarget

__all__ = ["CHANNEL", "RoutingCache", "cache", "on_notice", "routing_of"]

SQLITE_TTL_SECONDS = 1.0
POSTGRES_TTL_SECONDS = 60.0
MAX_ENTRIES = 4096


class RoutingCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[float, ProjectRouting]] = {}
        self._generation = 0
        self.invalidations = 0
        """How many invalidations this cache has seen (tests wait for one)."""

    async def routing_of(
        self, session: AsyncSession, project_ids: Iterable[str]
    ) -> dict[str, ProjectRouting]:
        """The routing of every project named, reading the missing ones with one query per table."""
        now = self.clock()
        found: dict[str, ProjectRouting] = {}
        missing: set[str] = set()
        for project_id in set(project_ids):
            entry = self._entries.get(project_id)
            if entry is not None and entry[0] > now:
                found[project_id] = entry[1]
            else:
                missing.add(project_id)
        if missing:
            generation = self._generation
            loaded = await _load(session, missing)
            ttl = (
                POSTGRES_TTL_SECONDS
                if session.get_bind().dialect.name == "postgresql"
                else SQLITE_TTL_SECONDS
            )
            if generation == self._generation:
                if len(self._entries) + len(loaded) > MAX_ENTRIES:
                    self._entries.clear()
                expires = self.clock() + ttl
                self._entries.update((project_id, (expires, r)) for project_id, r in loaded.items())
            found.update(loaded)
        return found

    def invalidate(self, project_id: str = EVERY_PROJECT) -> None:
        self._generation += 1
        self.invalidations += 1
        if project_id == EVERY_PROJECT:
            self._entries.clear()
        else:
            self._entries.pop(project_id, None)


async def _load(session: AsyncSession, project_ids: set[str]) -> dict[str, ProjectRouting]:
    targets: dict[str, list[WebhookTarget]] = defaultdict(list)
    target_stmt = select(WebhookTarget).where(WebhookTarget.project_id.in_(project_ids))
    for target in (await session.execute(target_stmt)).scalars():
        targets[target.project_id].append(target)
    rules: dict[str, list[RoutingRule]] = defaultdict(list)
    if targets:
        rule_stmt = select(RoutingRule).where(RoutingRule.project_id.in_(set(targets)))
        for rule in (await session.execute(rule_stmt)).scalars():
            rules[rule.project_id].append(rule)
    return {project_id: routing_from(targets[project_id], rules[project_id]) for project_id in project_ids}


cache = RoutingCache()


async def routing_of(session: AsyncSession, project_ids: Iterable[str]) -> dict[str, ProjectRouting]:
    return await cache.routing_of(session, project_ids)


def on_notice(payload: str) -> None:
    """A ``kirem_routing`` notification from any process (``*`` when notices may have been missed)."""
    cache.invalidate(payload or EVERY_PROJECT)


changes.committed.append(cache.invalidate)
