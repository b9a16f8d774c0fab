"""Each project's targets and rules, cached per process for the processing pipeline.

Processing routes every event; targets and rules change rarely. A project's routing is kept until
it changes:

- a change committed by this process to a target or rule (the API, a plan change, the worker
  disabling a failing target) drops the project's entry at its commit — a bulk ``UPDATE``/``DELETE``
  drops every entry;
- on PostgreSQL the same commit sends ``NOTIFY kirem_routing`` with the project id, and every
  process listening (:mod:`kirem.runtime`) drops its entry as soon as the notice arrives;
- as a safety net an entry lives at most :data:`SQLITE_TTL_SECONDS` on SQLite (where a CLI process
  cannot notify) and :data:`POSTGRES_TTL_SECONDS` on PostgreSQL.

A lookup that started before an invalidation does not store its (possibly stale) answer.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from kirem.routing.decide import ProjectRouting, routing_from
from kirem.routing.models import RoutingRule, WebhookTarget

CHANNEL = "kirem_routing"
"""The PostgreSQL notification channel; the payload is a project id, or ``*`` for every project."""
EVERY_PROJECT = "*"
SQLITE_TTL_SECONDS = 1.0
POSTGRES_TTL_SECONDS = 60.0
MAX_ENTRIES = 4096
ROUTING_MODELS = (WebhookTarget, RoutingRule)
_CHANGED = "kirem_routing_changed"


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
            ttl = POSTGRES_TTL_SECONDS if session.bind.dialect.name == "postgresql" else SQLITE_TTL_SECONDS
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
    stmt = select(WebhookTarget).where(WebhookTarget.project_id.in_(project_ids))
    for target in (await session.execute(stmt)).scalars():
        targets[target.project_id].append(target)
    rules: dict[str, list[RoutingRule]] = defaultdict(list)
    if targets:
        stmt = select(RoutingRule).where(RoutingRule.project_id.in_(set(targets)))
        for rule in (await session.execute(stmt)).scalars():
            rules[rule.project_id].append(rule)
    return {project_id: routing_from(targets[project_id], rules[project_id]) for project_id in project_ids}


cache = RoutingCache()


async def routing_of(session: AsyncSession, project_ids: Iterable[str]) -> dict[str, ProjectRouting]:
    return await cache.routing_of(session, project_ids)


def on_notice(payload: str) -> None:
    """A ``kirem_routing`` notification from any process (``*`` when notices may have been missed)."""
    cache.invalidate(payload or EVERY_PROJECT)


def _note(session: Session, project_ids: Iterable[str]) -> None:
    session.info.setdefault(_CHANGED, set()).update(project_ids)


def _changed_projects(rows: Iterable[Any]) -> set[str]:
    return {str(row.project_id or EVERY_PROJECT) for row in rows if isinstance(row, ROUTING_MODELS)}


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    changed = _changed_projects((*session.new, *session.dirty, *session.deleted))
    if changed:
        _note(session, changed)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (
        (state.is_update or state.is_delete)
        and mapper is not None
        and issubclass(mapper.class_, ROUTING_MODELS)
    ):
        _note(state.session, [EVERY_PROJECT])


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the transaction's own commit tells
    changed = session.info.get(_CHANGED, set()) | _changed_projects(
        (*session.new, *session.dirty, *session.deleted)
    )
    if not changed:
        return
    _note(session, changed)
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        payloads = [EVERY_PROJECT] if EVERY_PROJECT in changed else sorted(changed)
        for payload in payloads:
            session.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
            )


@event.listens_for(Session, "after_commit")
def _invalidate_on_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    changed = session.info.pop(_CHANGED, set())
    for project_id in [EVERY_PROJECT] if EVERY_PROJECT in changed else changed:
        cache.invalidate(project_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(_CHANGED, None)
