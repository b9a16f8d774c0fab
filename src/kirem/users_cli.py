"""``kirem users …``: dashboard users, their project roles and password resets, from a shell.

Registered by ``kirem.cli`` (``app.add_typer(users_app, name="users")``). The services are the
management API's (``kirem.dashboard.users``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from kirem.cli_support import AccountArg, JsonOpt, on_account, project_named, run, settings_from, show

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kirem.context import AppContext
    from kirem.dashboard.models import DashboardUser
    from kirem.tenancy.models import Account

users_app = typer.Typer(help="Dashboard users (email and password) and their roles.", no_args_is_help=True)

EmailArg = typer.Argument(..., help="The user's email address (the sign-in name).", show_default=False)
PasswordOpt = typer.Option(
    None,
    help="The password (10 characters or more); without it a random one is generated and printed once.",
)
USER_COLUMNS = ["id", "email", "account_owner", "roles", "password"]


def _password(given: str | None) -> tuple[str, bool]:
    import secrets

    return (given, False) if given is not None else (secrets.token_urlsafe(15), True)


async def _user(session: AsyncSession, email: str) -> DashboardUser:
    from kirem.api.responses import ApiError
    from kirem.dashboard.users import find_user

    user = await find_user(session, email)
    if user is None:
        raise ApiError(404, f"No dashboard user with the email {email!r}")
    return user


@users_app.command("create")
def users_create(
    email: str = EmailArg,
    account: str = typer.Option(..., help="The account the user belongs to.", show_default=False),
    owner: bool = typer.Option(
        False, "--owner", help="Account owner: owner of every project of the account."
    ),
    project: str = typer.Option(None, help="A project (by name) to give the user a role on."),
    role: str = typer.Option("developer", help="The role on --project: owner, developer or agent."),
    password: str = PasswordOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Create a dashboard user of an account (an owner, or a member with a role on one project)."""
    from kirem.dashboard import users

    secret, generated = _password(password)

    async def work(session: AsyncSession, found: Account, _ctx: AppContext) -> dict[str, Any]:
        user = await users.create_user(session, found, email, secret, account_owner=owner)
        if project is not None:
            _, chosen = await project_named(session, account, project)
            await users.set_role(session, user, chosen, role)
        view = users.user_view(user, await users.memberships(session, user))
        return {**view, "password": secret if generated else "(as given)"}

    show(on_account(account, work, write=True, as_json=as_json), as_json, USER_COLUMNS)


@users_app.command("list")
def users_list(account: str = AccountArg, as_json: bool = JsonOpt) -> None:
    """List an account's dashboard users with their roles (project id → role)."""
    from kirem.dashboard import users

    async def work(session: AsyncSession, found: Account, _ctx: AppContext) -> list[dict[str, Any]]:
        return [
            users.user_view(user, await users.memberships(session, user))
            for user in await users.account_users(session, found)
        ]

    show(on_account(account, work, as_json=as_json), as_json, USER_COLUMNS[:-1])


@users_app.command("set-role")
def users_set_role(
    email: str = EmailArg,
    project: str = typer.Argument(
        ..., help="The project's name within the user's account.", show_default=False
    ),
    role: str = typer.Argument(
        ..., help="owner, developer, agent, or none to take the project away.", show_default=False
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Give a user a role on a project of their account (none removes it)."""
    from kirem.api.responses import ApiError
    from kirem.dashboard import users
    from kirem.tenancy.models import Account
    from kirem.tenancy.service import find_project

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            user = await _user(session, email)
            account = await session.get(Account, user.account_id)
            chosen = await find_project(session, account, project) if account is not None else None
            if chosen is None:
                raise ApiError(404, f"Project {project!r} not found in the user's account")
            await users.set_role(session, user, chosen, None if role == "none" else role)
            return users.user_view(user, await users.memberships(session, user))

    show(run(settings_from(), work, as_json=as_json), as_json, USER_COLUMNS[:-1])


@users_app.command("reset-password")
def users_reset_password(email: str = EmailArg, password: str = PasswordOpt, as_json: bool = JsonOpt) -> None:
    """Set a new password for a user and end every session they have."""
    from kirem.dashboard import users

    secret, generated = _password(password)

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            user = await _user(session, email)
            await users.reset_password(session, user, secret)
            return {"email": user.email, "password": secret if generated else "(as given)"}

    show(run(settings_from(), work, as_json=as_json), as_json, ["email", "password"])
