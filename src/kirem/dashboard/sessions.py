"""Web sessions (random ids stored hashed, a CSRF token each) and the sign-in throttle."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.dashboard.models import DashboardUser, LoginThrottle, WebSession
from kirem.db.base import utcnow
from kirem.tenancy.tokens import hash_secret

SESSION_IDLE = timedelta(hours=12)
"""A session unused this long ends; each use (written at most every ``TOUCH_EVERY``) extends it."""
TOUCH_EVERY = timedelta(minutes=5)

FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
"""A client address gets more tries than one email: several people may sign in from one office."""


@dataclass
class Viewer:
    """Who a session belongs to: a user, or the operator (every account)."""

    user: DashboardUser | None
    operator: bool

    @property
    def email(self) -> str:
        return self.user.email if self.user is not None else "operator"

    @property
    def id(self) -> str:
        return self.user.id if self.user is not None else "operator"


@dataclass
class ActiveSession:
    record: WebSession
    viewer: Viewer

    @property
    def csrf_token(self) -> str:
        return self.record.csrf_token


async def start_session(
    session: AsyncSession, user: DashboardUser | None, *, operator: bool = False, replaces: str | None = None
) -> str:
    """A new session for ``user`` (or the operator); returns the cookie value, shown only here.

    ``replaces`` (the cookie the browser came with) is deleted: an id planted before sign-in never
    becomes a signed-in session (no fixation).
    """
    if replaces:
        await session.execute(delete(WebSession).where(WebSession.id_hash == hash_secret(replaces)))
    cookie = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            id_hash=hash_secret(cookie),
            user_id=user.id if user is not None else None,
            operator=operator,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_IDLE,
        )
    )
    await session.flush()
    return cookie


async def find_session(session: AsyncSession, cookie: str) -> ActiveSession | None:
    """The live session behind a cookie value, extended on use; None when unknown or expired."""
    now = utcnow()
    stmt = (
        select(WebSession, DashboardUser)
        .outerjoin(DashboardUser, DashboardUser.id == WebSession.user_id)
        .where(WebSession.id_hash == hash_secret(cookie), WebSession.expires_at > now)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    record, user = row
    if user is None and not record.operator:
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        record.last_seen_at = now
        record.expires_at = now + SESSION_IDLE
        await session.commit()
    return ActiveSession(record, Viewer(user, record.operator))


async def end_session(session: AsyncSession, cookie: str) -> None:
    await session.execute(delete(WebSession).where(WebSession.id_hash == hash_secret(cookie)))


async def end_every_session(session: AsyncSession, viewer: Viewer) -> None:
    """Log out everywhere: every session of this user (or every operator session)."""
    if viewer.user is not None:
        await session.execute(delete(WebSession).where(WebSession.user_id == viewer.user.id))
    else:
        await session.execute(delete(WebSession).where(WebSession.operator.is_(True)))


async def purge_stale(session: AsyncSession, now: datetime) -> None:
    """Forget expired sessions and throttle entries that neither count nor lock any more."""
    await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    await session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_started_at < now - FAILURE_WINDOW,
            (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until < now),
        )
    )


# The sign-in throttle -------------------------------------------------------------------------


def throttle_keys(email: str, address: str) -> list[tuple[str, int]]:
    keys = [(f"address:{address}", MAX_FAILURES_PER_ADDRESS)]
    if email:
        keys.append((f"email:{email.strip().lower()[:254]}", MAX_FAILURES_PER_EMAIL))
    return keys


async def locked_for(session: AsyncSession, keys: list[tuple[str, int]]) -> timedelta | None:
    """How long sign-in stays refused for any of ``keys``, or None when it is open."""
    now = utcnow()
    stmt = select(LoginThrottle.locked_until).where(LoginThrottle.key.in_([k for k, _ in keys]))
    waits = [until - now for until in (await session.execute(stmt)).scalars() if until and until > now]
    return max(waits) if waits else None


async def record_failure(session: AsyncSession, keys: list[tuple[str, int]]) -> None:
    now = utcnow()
    for key, limit in keys:
        row = await session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
            session.add(row)
        if now - row.window_started_at > FAILURE_WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + LOCKOUT
            row.failures, row.window_started_at = 0, now
    await session.flush()


async def clear_failures(session: AsyncSession, email: str) -> None:
    """A successful sign-in forgets the email's failures (the address's stay: they may be others')."""
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == f"email:{email}"))
