"""Changes to targets and rules, told at commit: to this process's subscribers and, on PostgreSQL,
to every process through ``NOTIFY kirem_routing`` (payload: the project id, or ``*``).

Registered by :mod:`kirem.routing.models`, so any process that changes a target or a rule (an API
process, the CLI, a worker disabling a failing target) tells the others. A bulk ``UPDATE``/``DELETE``
of targets or rules tells ``*``. A savepoint's commit tells nothing; its transaction's commit does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

CHANNEL = "kirem_routing"
EVERY_PROJECT = "*"
ROUTING_TABLES = frozenset({"webhook_targets", "routing_rules"})
_CHANGED = "kirem_routing_changed"

committed: list[Callable[[str], None]] = []
"""Called with each changed project id (or ``*``) after the commit that changed it."""


def _routing_rows(rows: Iterable[Any]) -> set[str]:
    return {
        str(row.project_id or EVERY_PROJECT)
        for row in rows
        if getattr(row, "__tablename__", None) in ROUTING_TABLES
    }


def _note(session: Session, project_ids: Iterable[str]) -> None:
    session.info.setdefault(_CHANGED, set()).update(project_ids)


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _flush: UOWTransaction) -> None:
    changed = _routing_rows((*session.new, *session.dirty, *session.deleted))
    if changed:
        _note(session, changed)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    table = getattr(mapper.class_, "__tablename__", None) if mapper is not None else None
    if (state.is_update or state.is_delete) and table in ROUTING_TABLES:
        _note(state.session, [EVERY_PROJECT])


def _told(changed: set[str]) -> list[str]:
    return [EVERY_PROJECT] if EVERY_PROJECT in changed else sorted(changed)


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    if session.in_nested_transaction():
        return
    changed = session.info.get(_CHANGED, set()) | _routing_rows(
        (*session.new, *session.dirty, *session.deleted)
    )
    if not changed:
        return
    _note(session, changed)
    if session.get_bind().dialect.name == "postgresql":
        for payload in _told(changed):
            session.execute(
                text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
            )


@event.listens_for(Session, "after_commit")
def _tell_this_process(session: Session) -> None:
    if session.in_nested_transaction():
        return
    for project_id in _told(session.info.pop(_CHANGED, set())):
        for subscriber in committed:
            subscriber(project_id)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(_CHANGED, None)
