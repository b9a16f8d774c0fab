"""Who is looking at a page: the web session, the role on the project, and the CSRF check.

``require_role("owner", "developer")`` is the dependency of every project page; it gives a
:class:`ProjectAccess` whose ``tenant`` is the same :class:`~kirem.tenancy.service.Tenant` the /v1
services take, so pages call those services directly.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Depends, Request
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.deps import get_context, get_session
from kirem.context import AppContext
from kirem.dashboard.models import ROLES
from kirem.dashboard.sessions import ActiveSession, Viewer, find_session
from kirem.dashboard.users import ProjectRole, project_role, visible_projects
from kirem.dashboard.web import CSRF_COOKIE
from kirem.tenancy.models import Account, ApiKey, Project
from kirem.tenancy.service import Tenant, account_limits

SESSION_COOKIE = "kirem_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """Not signed in: the page redirects to the sign-in form, coming back to ``next_url`` after."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


class PageNotFound(Exception):
    """No such page, or no access to it: both answer the same 404 page (nothing to probe)."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token: a 403 page, nothing changed."""


@dataclass
class ProjectAccess:
    """A signed-in person on one project with a role there."""

    user: Viewer
    project: Project
    account: Account
    role: str
    tenant: Tenant
    session: AsyncSession
    ctx: AppContext
    projects: list[ProjectRole]
    """The projects the person may switch to (the header's project switcher)."""

    async def recover(self) -> None:
        """Load again what a service's rollback expired, so the page can still be drawn."""
        rows: list[object] = [self.project, self.account, self.user.user]
        rows += [row for item in self.projects for row in (item.project, item.account)]
        for row in rows:
            if row is not None and inspect(row).expired_attributes:
                await self.session.refresh(row)


def dashboard_key(project: Project) -> ApiKey:
    """The key a dashboard user acts with on services that ask for one: live, never stored."""
    return ApiKey(id="dashboard", project_id=project.id, name="dashboard", mode="live", scope="api")


async def current_session(
    request: Request, session: AsyncSession = Depends(get_session)
) -> ActiveSession | None:
    """The signed-in session of this request, if any (looked up once per request)."""
    if hasattr(request.state, "web_session"):
        return request.state.web_session  # type: ignore[no-any-return]
    cookie = request.cookies.get(SESSION_COOKIE)
    web = await find_session(session, cookie) if cookie else None
    request.state.web_session = web
    return web


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


async def require_session(
    request: Request, web: ActiveSession | None = Depends(current_session)
) -> ActiveSession:
    if web is None:
        raise LoginRequired(_here(request))
    return web


async def operator_project_role(session: AsyncSession, project_id: str) -> ProjectRole | None:
    row = (
        await session.execute(
            select(Project, Account)
            .join(Account, Account.id == Project.account_id)
            .where(Project.id == project_id)
        )
    ).first()
    return ProjectRole(row[0], row[1], "owner") if row is not None else None


async def _switchable(session: AsyncSession, viewer: Viewer, account: Account) -> list[ProjectRole]:
    if viewer.user is not None:
        return await visible_projects(session, viewer.user)
    stmt = select(Project).where(Project.account_id == account.id).order_by(Project.created_at, Project.id)
    return [ProjectRole(p, account, "owner") for p in (await session.execute(stmt)).scalars()]


def require_role(*roles: str) -> Callable[..., Awaitable[ProjectAccess]]:
    """The dependency of a project page (path parameter ``project_id``) open to ``roles``.

    Not signed in: redirect to sign-in. Unknown project, another account's, or a role not in
    ``roles``: the 404 page. The operator is owner of every project.
    """
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(
        request: Request,
        web: ActiveSession = Depends(require_session),
        session: AsyncSession = Depends(get_session),
        ctx: AppContext = Depends(get_context),
    ) -> ProjectAccess:
        project_id = str(request.path_params.get("project_id", ""))
        viewer = web.viewer
        if viewer.user is not None:
            found = await project_role(session, viewer.user, project_id)
        else:
            found = await operator_project_role(session, project_id)
        if found is None or found.role not in roles:
            raise PageNotFound()
        tenant = Tenant(
            account=found.account,
            project=found.project,
            api_key=dashboard_key(found.project),
            limits=account_limits(found.account),
        )
        access = ProjectAccess(
            user=viewer,
            project=found.project,
            account=found.account,
            role=found.role,
            tenant=tenant,
            session=session,
            ctx=ctx,
            projects=await _switchable(session, viewer, found.account),
        )
        request.state.access = access
        request.state.tenant = tenant
        return access

    return dependency


async def check_csrf(request: Request, web: ActiveSession | None = Depends(current_session)) -> None:
    """Refuse a form whose ``csrf_token`` field (or ``X-CSRF-Token`` header) is not this session's."""
    expected = web.csrf_token if web is not None else request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else ""
    if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def login_url(next_url: str) -> str:
    return f"/dashboard/login?next={quote(next_url, safe='')}"
