"""Dashboard users and their roles: created by the CLI and the management API, checked at sign-in."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError, invalid, not_found
from kirem.dashboard.models import ROLES, DashboardUser, ProjectMembership, WebSession
from kirem.dashboard.passwords import hash_password, password_problem
from kirem.db.scope import flush_unique
from kirem.tenancy.models import Account, Project

_EMAIL = re.compile(r"^[^@\s\x00]{1,64}@[^@\s\x00]{1,189}\.[^@\s\x00.]{1,63}$")


def normal_email(email: object) -> str:
    """The email in the form it is stored in (trimmed, lower case), or a 400 naming the field."""
    value = email.strip().lower() if isinstance(email, str) else ""
    if not _EMAIL.match(value) or len(value) > 254:
        raise invalid({"email": "must be an email address such as owner@example.com"})
    return value


def check_password(password: object) -> str:
    problem = password_problem(password)
    if problem is not None:
        raise invalid({"password": problem})
    assert isinstance(password, str)
    return password


def check_role(role: object) -> str:
    if role not in ROLES:
        raise invalid({"role": f"must be one of {', '.join(ROLES)}"})
    assert isinstance(role, str)
    return role


async def create_user(
    session: AsyncSession, account: Account, email: object, password: object, *, account_owner: bool
) -> DashboardUser:
    address = normal_email(email)
    hashed = hash_password(check_password(password))
    taken = ApiError(409, "A dashboard user with this email already exists", {"email": address})
    if await find_user(session, address) is not None:
        raise taken
    user = DashboardUser(
        account_id=account.id, email=address, password_hash=hashed, account_owner=account_owner
    )
    session.add(user)
    await flush_unique(session, taken)
    return user


async def find_user(session: AsyncSession, email: str) -> DashboardUser | None:
    stmt = select(DashboardUser).where(DashboardUser.email == email.strip().lower())
    return (await session.execute(stmt)).scalar_one_or_none()


async def account_user(session: AsyncSession, account: Account, user_id: str) -> DashboardUser:
    user = await session.get(DashboardUser, user_id)
    if user is None or user.account_id != account.id:
        raise not_found("User")
    return user


async def account_users(session: AsyncSession, account: Account) -> list[DashboardUser]:
    stmt = select(DashboardUser).where(DashboardUser.account_id == account.id)
    return list((await session.execute(stmt.order_by(DashboardUser.created_at, DashboardUser.id))).scalars())


async def set_role(session: AsyncSession, user: DashboardUser, project: Project, role: str | None) -> None:
    """Give ``user`` ``role`` on ``project`` (None removes it); the project must be the user's account's."""
    if project.account_id != user.account_id:
        raise not_found("Project")
    await session.execute(
        delete(ProjectMembership).where(
            ProjectMembership.user_id == user.id, ProjectMembership.project_id == project.id
        )
    )
    if role is not None:
        session.add(ProjectMembership(user_id=user.id, project_id=project.id, role=check_role(role)))
    await session.flush()


async def memberships(session: AsyncSession, user: DashboardUser) -> dict[str, str]:
    """Project id → role, as given (account owners own every project besides)."""
    stmt = select(ProjectMembership.project_id, ProjectMembership.role).where(
        ProjectMembership.user_id == user.id
    )
    return {project_id: role for project_id, role in (await session.execute(stmt)).all()}


async def reset_password(session: AsyncSession, user: DashboardUser, password: object) -> None:
    """A new password; every session of the user ends (a stolen session dies with the old password)."""
    user.password_hash = hash_password(check_password(password))
    await end_sessions(session, user.id)


async def end_sessions(session: AsyncSession, user_id: str) -> int:
    result = await session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ProjectRole:
    project: Project
    account: Account
    role: str


async def visible_projects(session: AsyncSession, user: DashboardUser) -> list[ProjectRole]:
    """Every project the user may open, with the role there, oldest first."""
    account = await session.get(Account, user.account_id)
    if account is None:
        return []
    stmt = select(Project).where(Project.account_id == user.account_id)
    projects = list((await session.execute(stmt.order_by(Project.created_at, Project.id))).scalars())
    if user.account_owner:
        return [ProjectRole(p, account, "owner") for p in projects]
    roles = await memberships(session, user)
    return [ProjectRole(p, account, roles[p.id]) for p in projects if p.id in roles]


async def project_role(session: AsyncSession, user: DashboardUser, project_id: str) -> ProjectRole | None:
    """The user's role on one project, or None when the user may not see it (or it does not exist)."""
    row = (
        await session.execute(
            select(Project, Account)
            .join(Account, Account.id == Project.account_id)
            .where(Project.id == project_id, Project.account_id == user.account_id)
        )
    ).first()
    if row is None:
        return None
    project, account = row
    if user.account_owner:
        return ProjectRole(project, account, "owner")
    stmt = select(ProjectMembership.role).where(
        ProjectMembership.user_id == user.id, ProjectMembership.project_id == project_id
    )
    role = (await session.execute(stmt)).scalar_one_or_none()
    return ProjectRole(project, account, role) if role is not None else None


def user_view(user: DashboardUser, roles: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "id": user.id,
        "account_id": user.account_id,
        "email": user.email,
        "account_owner": user.account_owner,
        "roles": roles or {},
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }
