"""A batch of attempt results turned into rows: one statement per table for the whole batch.

The worker records attempts that finish together in one transaction. For each it logs the attempt,
moves its delivery on (succeeded, failed, or pending again at its next time) and keeps its target's
``failing_since``; a delivery replayed while its attempt was in flight starts its fresh series
instead of moving on (the attempt is still logged). Targets to disable are named with the reason,
for the worker to disable after the rows are written. Results are applied in order, so a target's
state after the batch is the one its last result left.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, case, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.db.base import new_id
from kirem.delivery.models import Delivery, DeliveryAttempt
from kirem.delivery.schedule import DEFAULT_SCHEDULE, next_delay
from kirem.delivery.sender import AttemptResult
from kirem.kit.enums import DeliveryStatus
from kirem.routing.models import WebhookTarget
from kirem.usage import meter as usage

FAILING_DISABLES_AFTER = timedelta(days=5)

_DELIVERIES = cast("Table", Delivery.__table__)
_ATTEMPTS = cast("Table", DeliveryAttempt.__table__)
_TARGETS = cast("Table", WebhookTarget.__table__)

_REPLAY = _DELIVERIES.c.replay_requested
_MOVE_ON = (
    update(_DELIVERIES)
    .where(_DELIVERIES.c.id == bindparam("b_id"), _DELIVERIES.c.leased_by == bindparam("b_worker"))
    .values(
        attempts=case((_REPLAY, 0), else_=bindparam("b_attempts")),
        status=case((_REPLAY, DeliveryStatus.PENDING.value), else_=bindparam("b_status")),
        next_attempt_at=case(
            (_REPLAY, bindparam("b_now", type_=_DELIVERIES.c.next_attempt_at.type)),
            else_=bindparam("b_next", type_=_DELIVERIES.c.next_attempt_at.type),
        ),
        completed_at=case(
            (_REPLAY, None), else_=bindparam("b_completed", type_=_DELIVERIES.c.completed_at.type)
        ),
        last_status_code=bindparam("b_code", type_=_DELIVERIES.c.last_status_code.type),
        last_error=bindparam("b_error", type_=_DELIVERIES.c.last_error.type),
        lease_expires_at=None,
        leased_by=None,
        replay_requested=False,
        updated_at=bindparam("b_now", type_=_DELIVERIES.c.updated_at.type),
    )
)
"""Moves a delivery on from its attempt's result, or, when a replay was asked for meanwhile, starts
its fresh series (decided in the statement, on the row as it is when written)."""
_FAILING_SINCE = (
    update(_TARGETS)
    .where(_TARGETS.c.id == bindparam("b_id"))
    .values(failing_since=bindparam("b_since", type_=_TARGETS.c.failing_since.type))
)


class AttemptOutcomes:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.attempts: list[dict[str, Any]] = []
        self.moves: list[dict[str, Any]] = []
        self.failing: dict[str, datetime | None] = {}
        self.failing_before: dict[str, datetime | None] = {}
        self.disable: dict[str, str] = {}
        """Targets to disable, with why (the first reason in the batch)."""
        self.per_project: Counter[str] = Counter()

    def add(self, queued: Row[Any], url: str, result: AttemptResult, headers: dict[str, str] | None) -> None:
        """Apply one attempt's result to its delivery and target.

        ``queued`` is the delivery's row with its target's ``failing_since``, ``retry_schedule`` and
        ``max_attempts`` (the worker reads them for the batch with one query)."""
        now, target_id = self.now, queued.target_id
        if target_id not in self.failing:
            self.failing[target_id] = self.failing_before[target_id] = queued.failing_since
        made = queued.attempts + 1
        status, next_at, completed = DeliveryStatus.PENDING, queued.next_attempt_at, None
        if result.is_success:
            status, completed = DeliveryStatus.SUCCEEDED, now
            self.failing[target_id] = None
        elif result.gone:
            status, completed = DeliveryStatus.FAILED, now
            self.disable.setdefault(target_id, "the endpoint answered 410 Gone")
        else:
            since = self.failing[target_id] = self.failing[target_id] or now
            if now - since >= FAILING_DISABLES_AFTER:
                status, completed = DeliveryStatus.FAILED, now
                self.disable.setdefault(target_id, "every delivery failed for 5 days")
            else:
                schedule = tuple(queued.retry_schedule or DEFAULT_SCHEDULE)
                delay = next_delay(
                    made, schedule=schedule, max_attempts=queued.max_attempts, retry_after=result.retry_after
                )
                if delay is None:
                    status, completed = DeliveryStatus.FAILED, now
                else:
                    next_at = now + timedelta(seconds=delay)
        self.moves.append(
            {
                "b_id": queued.id,
                "b_attempts": made,
                "b_status": status,
                "b_next": next_at,
                "b_completed": completed,
                "b_code": result.status_code,
                "b_error": result.error,
                "b_now": now,
            }
        )
        self.attempts.append(
            {
                "id": new_id("att"),
                "project_id": queued.project_id,
                "delivery_id": queued.id,
                "event_id": queued.event_id,
                "target_id": target_id,
                "event_type": queued.event_type,
                "url": url,
                "attempt": made,
                "status_code": result.status_code,
                "duration_ms": result.duration_ms,
                "is_success": result.is_success,
                "error": result.error,
                "response_body": result.response_body,
                "request_headers": headers,
                "created_at": now,
            }
        )
        self.per_project[queued.project_id] += 1

    async def write(self, session: AsyncSession, worker_id: str) -> None:
        """The deliveries, the attempt log, the targets whose ``failing_since`` moved, the usage."""
        if not self.moves:
            return
        await session.execute(_MOVE_ON, [{**move, "b_worker": worker_id} for move in self.moves])
        await session.execute(insert(_ATTEMPTS), self.attempts)
        moved = [
            {"b_id": target_id, "b_since": since}
            for target_id, since in self.failing.items()
            if since != self.failing_before[target_id]
        ]
        if moved:
            await session.execute(_FAILING_SINCE, moved)
        for project_id in sorted(self.per_project):
            await usage.count(session, project_id, {usage.ATTEMPTS: self.per_project[project_id]}, self.now)
