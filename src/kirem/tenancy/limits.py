"""Plan count limits that hold under concurrency, on SQLite and PostgreSQL.

A count-limited create (projects, channels, webhook targets, routing rules) first locks the row
its limit belongs to — the account or the project — then counts, then inserts, and the lock is
held until the caller commits. Concurrent creates for the same owner therefore run one after the
other, and each one counts every row the previous ones committed: never count-then-insert alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError
from kirem.tenancy.models import Account, Project
from kirem.tenancy.plans import plan_lifting

Owner = type[Account] | type[Project]


def plan_error(feature: str, message: str, needed: int | bool = True, status: int = 403) -> ApiError:
    """A plan refusal naming the cheapest plan that lifts it."""
    plan = plan_lifting(feature, needed)
    return ApiError(status, f"{message} Upgrade to the {plan} plan to lift this limit.", {"plan": plan})


async def lock_owner(session: AsyncSession, owner: Owner, owner_id: str) -> None:
    """Hold the owner's row until the session's transaction ends.

    PostgreSQL: ``SELECT … FOR NO KEY UPDATE`` (rows that merely reference the owner can still be
    inserted meanwhile). SQLite: its reads take no lock, so the row is written to (``SET name =
    name``), which takes the database's single write lock now — what ``BEGIN IMMEDIATE`` does —
    waiting (``busy_timeout``) while another transaction holds it.
    """
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(owner.id).where(owner.id == owner_id).with_for_update(key_share=True)
        await session.execute(stmt)
    else:
        await session.execute(update(owner).where(owner.id == owner_id).values(name=owner.name))


async def enforce_enabling_limit(
    session: AsyncSession,
    model: Any,
    project_id: str,
    *,
    limit: int | None,
    feature: str,
    plan: str,
    noun: str,
) -> None:
    """403 when the project's enabled ``model`` rows (targets, rules) already reach ``limit``.

    Turning one back on counts against the plan like creating one, so a target or rule a
    downgrade disabled cannot simply be switched on again.
    """
    count = (
        select(func.count()).select_from(model).where(model.project_id == project_id, model.enabled.is_(True))
    )
    await enforce_count_limit(
        session, Project, project_id, count, limit=limit, feature=feature, plan=plan, noun=noun
    )


async def enforce_count_limit(
    session: AsyncSession,
    owner: Owner,
    owner_id: str,
    count: Select[Any],
    *,
    limit: int | None,
    feature: str,
    plan: str,
    noun: str,
) -> None:
    """403 when ``count`` already reaches ``limit``; otherwise the caller inserts one row and commits.

    ``count`` is a ``SELECT count(*)`` of the owner's rows; it runs only after the owner is locked.
    Keep slow work (DNS, HTTP) before this call: the lock lasts until the commit.
    """
    if limit is None:
        return
    await lock_owner(session, owner, owner_id)
    current = int(await session.scalar(count) or 0)
    if current >= limit:
        raise plan_error(feature, f"The {plan} plan allows {limit} {noun}.", current + 1)
