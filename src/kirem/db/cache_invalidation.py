"""Hot-path caches emptied when this process commits a change to the rows they copy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from kirem.kit.ttl_cache import CacheGroup


def invalidate_on_commit(group: CacheGroup, models: tuple[type[Any], ...], name: str) -> None:
    """Empty ``group`` after any session commits an ORM change or a bulk ``UPDATE``/``DELETE`` of a
    row of ``models``; a rolled-back change empties nothing. ``name`` tells the session's mark apart."""
    changed = _mark(name)

    @event.listens_for(Session, "after_flush")
    def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
        rows = (*session.new, *session.dirty, *session.deleted)
        if any(isinstance(row, models) for row in rows):
            session.info[changed] = True

    @event.listens_for(Session, "do_orm_execute")
    def _note_bulk_changes(state: ORMExecuteState) -> None:
        mapper = state.bind_mapper
        changes = state.is_update or state.is_delete
        if changes and mapper is not None and issubclass(mapper.class_, models):
            state.session.info[changed] = True

    @event.listens_for(Session, "after_commit")
    def _invalidate_on_commit(session: Session) -> None:
        if session.info.pop(changed, False):
            group.invalidate()

    @event.listens_for(Session, "after_soft_rollback")
    def _forget_on_rollback(session: Session, _previous: Any) -> None:
        session.info.pop(changed, None)


def holds_changes(session: AsyncSession, models: tuple[type[Any], ...], name: str) -> bool:
    """Whether ``session`` changed a row of ``models`` (watched as ``name``) and has not committed:
    what it reads may be rolled back, so it must neither read from nor fill the caches."""
    if session.info.get(_mark(name), False):
        return True
    return any(isinstance(row, models) for row in (*session.new, *session.dirty, *session.deleted))


def _mark(name: str) -> str:
    return f"kirem_changed_{name}"
