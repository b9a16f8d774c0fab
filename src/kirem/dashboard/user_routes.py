"""Dashboard users over the management API (account token) and password resets by the operator."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.body import read_json_object
from kirem.api.deps import get_account, get_session, require_operator
from kirem.api.responses import ok
from kirem.api.schemas import Envelope, request_body, responses
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

manage_users = APIRouter(prefix="/v1/manage/users", tags=["management"], responses=responses(401))
BODY_ERRORS = (400, 413, 415)

operator_users = APIRouter(
    prefix="/v1/operator",
    tags=["operator"],
    dependencies=[Depends(require_operator)],
    responses=responses(401, 403),
)


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


@manage_users.get(
    "",
    summary="List the account's dashboard users and their project roles",
    response_model=Envelope[list[UserView]],
)
async def list_users(
    account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    views = [await _view(session, user) for user in await users.account_users(session, account)]
    return ok(views, "Users retrieved successfully")


@manage_users.post(
    "",
    summary="Create a dashboard user (email and password) with roles",
    status_code=201,
    response_model=Envelope[UserView],
    responses=responses(*BODY_ERRORS, 409),
    openapi_extra=request_body(
        UserCreateBody,
        {"email": USER_EXAMPLE["email"], "password": "correct horse battery", "roles": USER_EXAMPLE["roles"]},
    ),
)
async def create_user(
    request: Request, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    body = await read_json_object(request)
    user = await users.create_user(
        session, account, body.get("email"), body.get("password"), account_owner=bool(_owner_flag(body))
    )
    await _apply_roles(session, account, user, body.get("roles"))
    await session.commit()
    return ok(await _view(session, user), "User created successfully", 201)


@manage_users.get(
    "/{user_id}", summary="Get a dashboard user", response_model=Envelope[UserView], responses=responses(404)
)
async def get_user(
    user_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    user = await users.account_user(session, account, user_id)
    return ok(await _view(session, user), "User retrieved successfully")


@manage_users.patch(
    "/{user_id}",
    summary="Change a user's account ownership or project roles",
    response_model=Envelope[UserView],
    responses=responses(*BODY_ERRORS, 404),
    openapi_extra=request_body(UserUpdateBody, {"roles": {"prj_4d5e6f7a8b9c0d1e2f3a4b5c": "developer"}}),
)
async def update_user(
    user_id: str,
    request: Request,
    account: Account = Depends(get_account),
    session: AsyncSession = Depends(get_session),
) -> Response:
    user = await users.account_user(session, account, user_id)
    body = await read_json_object(request)
    owner = _owner_flag(body)
    if owner is not None:
        user.account_owner = owner
    await _apply_roles(session, account, user, body.get("roles"))
    await session.commit()
    return ok(await _view(session, user), "User updated successfully")


@manage_users.post(
    "/{user_id}/logout",
    summary="End every dashboard session of a user",
    response_model=Envelope[SessionsEnded],
    responses=responses(404),
)
async def logout_user(
    user_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    user = await users.account_user(session, account, user_id)
    ended = await users.end_sessions(session, user.id)
    await session.commit()
    return ok({"sessions_ended": ended}, "Sessions ended successfully")


@manage_users.delete(
    "/{user_id}",
    summary="Delete a dashboard user (their sessions end)",
    response_model=Envelope[UserView],
    responses=responses(404),
)
async def delete_user(
    user_id: str, account: Account = Depends(get_account), session: AsyncSession = Depends(get_session)
) -> Response:
    user = await users.account_user(session, account, user_id)
    view = await _view(session, user)
    await session.delete(user)
    await session.commit()
    return ok(view, "User deleted successfully")


@operator_users.get(
    "/accounts/{account_id}/users",
    summary="List an account's dashboard users",
    response_model=Envelope[list[UserView]],
    responses=responses(404),
)
async def operator_list_users(account_id: str, session: AsyncSession = Depends(get_session)) -> Response:
    account = await session.get(Account, account_id)
    if account is None:
        raise not_found("Account")
    views = [await _view(session, user) for user in await users.account_users(session, account)]
    return ok(views, "Users retrieved successfully")


@operator_users.post(
    "/users/{user_id}/password",
    summary="Reset a user's password (random when none is given: shown only here); their sessions end",
    response_model=Envelope[PasswordReset],
    responses=responses(*BODY_ERRORS, 404),
    openapi_extra=request_body(PasswordResetBody, {"password": "a new long passphrase"}, required=False),
)
async def reset_password(
    user_id: str, request: Request, session: AsyncSession = Depends(get_session)
) -> Response:
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
