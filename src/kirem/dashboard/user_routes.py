"""Dashboard users over the management API (account token) and password resets by the operator."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.answers import deleted
from kirem.api.body import read_json_object
from kirem.api.deps import AccountDep, PathAccountDep, SessionDep
from kirem.api.responses import ok
from kirem.api.route_docs import documented
from kirem.api.routers import management_router, operator_router
from kirem.api.schemas import request_body
from kirem.dashboard import users
from kirem.dashboard.models import DashboardUser
from kirem.dashboard.schemas import (
    USER_EXAMPLE,
    PasswordReset,
    PasswordResetBody,
    SessionsEnded,
    UserCreateBody,
    UserUpdateBody,
    UserView,
)
from kirem.kit.errors import invalid, not_found
from kirem.tenancy.models import Account, Project

manage_users = management_router("/users")
operator_users = operator_router()


async def _view(session: AsyncSession, user: DashboardUser) -> dict[str, Any]:
    return users.user_view(user, await users.memberships(session, user))


def _owner_flag(body: dict[str, Any]) -> bool | None:
    value = body.get("account_owner")
    if value is not None and not isinstance(value, bool):
        raise invalid({"account_owner": "must be true or false"})
    return value


async def _apply_roles(session: AsyncSession, account: Account, user: DashboardUser, raw: object) -> None:
    """``roles``: project id → owner, developer, agent, or null to take the project away."""
    if raw is None:
        return
    if not isinstance(raw, dict) or len(raw) > 1000:
        raise invalid({"roles": "must be an object of project id → role (owner, developer, agent or null)"})
    for project_id, role in raw.items():
        project = await session.get(Project, str(project_id))
        if project is None or project.account_id != account.id:
            raise invalid({f"roles.{project_id}": "no such project in this account"})
        if role is not None:
            users.check_role(role)
        await users.set_role(session, user, project, role)


async def _account_user(user_id: str, account: AccountDep, session: SessionDep) -> DashboardUser:
    """The path's dashboard user, if the calling account has it (404 otherwise)."""
    return await users.account_user(session, account, user_id)


AccountUserDep = Annotated[DashboardUser, Depends(_account_user)]


async def _users_answer(session: AsyncSession, account: Account) -> Response:
    """The account's dashboard users, for its own token and for the operator alike."""
    views = [await _view(session, user) for user in await users.account_users(session, account)]
    return ok(views, "Users retrieved successfully")


@manage_users.get(
    "", **documented("List the account's dashboard users and their project roles", list[UserView])
)
async def list_users(account: AccountDep, session: SessionDep) -> Response:
    return await _users_answer(session, account)


@manage_users.post(
    "",
    **documented(
        "Create a dashboard user (email and password) with roles",
        UserView,
        409,
        body=request_body(
            UserCreateBody,
            {
                "email": USER_EXAMPLE["email"],
                "password": "correct horse battery",
                "roles": USER_EXAMPLE["roles"],
            },
        ),
        status=201,
    ),
)
async def create_user(request: Request, account: AccountDep, session: SessionDep) -> Response:
    body = await read_json_object(request)
    user = await users.create_user(
        session, account, body.get("email"), body.get("password"), account_owner=bool(_owner_flag(body))
    )
    await _apply_roles(session, account, user, body.get("roles"))
    await session.commit()
    return ok(await _view(session, user), "User created successfully", 201)


@manage_users.get("/{user_id}", **documented("Get a dashboard user", UserView, 404))
async def get_user(user: AccountUserDep, session: SessionDep) -> Response:
    return ok(await _view(session, user), "User retrieved successfully")


@manage_users.patch(
    "/{user_id}",
    **documented(
        "Change a user's account ownership or project roles",
        UserView,
        404,
        body=request_body(UserUpdateBody, {"roles": {"prj_4d5e6f7a8b9c0d1e2f3a4b5c": "developer"}}),
    ),
)
async def update_user(
    user: AccountUserDep, request: Request, account: AccountDep, session: SessionDep
) -> Response:
    body = await read_json_object(request)
    owner = _owner_flag(body)
    if owner is not None:
        user.account_owner = owner
    await _apply_roles(session, account, user, body.get("roles"))
    await session.commit()
    return ok(await _view(session, user), "User updated successfully")


@manage_users.post(
    "/{user_id}/logout", **documented("End every dashboard session of a user", SessionsEnded, 404)
)
async def logout_user(user: AccountUserDep, session: SessionDep) -> Response:
    ended = await users.end_sessions(session, user.id)
    await session.commit()
    return ok({"sessions_ended": ended}, "Sessions ended successfully")


@manage_users.delete(
    "/{user_id}", **documented("Delete a dashboard user (their sessions end)", UserView, 404)
)
async def delete_user(user: AccountUserDep, session: SessionDep) -> Response:
    return await deleted(session, user, await _view(session, user), "User deleted successfully")


@operator_users.get(
    "/accounts/{account_id}/users", **documented("List an account's dashboard users", list[UserView], 404)
)
async def operator_list_users(account: PathAccountDep, session: SessionDep) -> Response:
    return await _users_answer(session, account)


@operator_users.post(
    "/users/{user_id}/password",
    **documented(
        "Reset a user's password (random when none is given: shown only here); their sessions end",
        PasswordReset,
        404,
        body=request_body(PasswordResetBody, {"password": "a new long passphrase"}, required=False),
    ),
)
async def reset_password(user_id: str, request: Request, session: SessionDep) -> Response:
    user = await session.get(DashboardUser, user_id)
    if user is None:
        raise not_found("User")
    body = await read_json_object(request) if await request.body() else {}
    given = body.get("password")
    password = given if given is not None else secrets.token_urlsafe(15)
    await users.reset_password(session, user, password)
    await session.commit()
    data: dict[str, Any] = {"id": user.id, "email": user.email}
    if given is None:
        data["password"] = password
    return ok(data, "Password reset successfully")
