"""Shared pieces of the ``kirem`` commands: settings, a context, tables, errors, and tenant look-ups.

Importing the command modules must stay cheap: ``kirem --help`` never loads the web app, SQLAlchemy
or Alembic. Everything heavy is imported inside the function that needs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from kirem.kit.error_fields import flatten_errors

if TYPE_CHECKING:
    import httpx
    from sqlalchemy.ext.asyncio import AsyncSession

    from kirem.api.responses import ApiError
    from kirem.config import Settings
    from kirem.context import AppContext
    from kirem.tenancy.models import Account, Project
    from kirem.tenancy.service import Tenant

console = Console(width=None if sys.stdout.isatty() else 240)
"""Piped output is not cut to 80 columns: ids and keys stay whole for scripts and logs."""
T = TypeVar("T")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")
AccountArg = typer.Argument(..., help="The account's name.", show_default=False)
ProjectArg = typer.Argument(..., help="The project's name within the account.", show_default=False)
UrlOpt = typer.Option(None, help="The running server (default http://KIREM_HOST:KIREM_PORT).")
AccountWork = Callable[["AsyncSession", "Account", "AppContext"], Awaitable[T]]
ProjectWork = Callable[["AsyncSession", "Tenant", "AppContext"], Awaitable[T]]


def fail(message: str, code: int = 1, body: dict[str, Any] | None = None) -> NoReturn:
    """End the command: one ``error: …`` line on stderr, or ``body`` as one JSON line when given."""
    typer.echo(f"error: {message}" if body is None else json.dumps(body), err=True)
    raise typer.Exit(code)


def describe(message: str, errors: Any, status: int | None = None) -> str:
    """One readable line: the message, the field errors it does not already say, and the status."""
    details = [f"{field}: {text}" for field, text in flatten_errors(errors, "error") if text not in message]
    line = message.rstrip() + (f" — {'; '.join(details)}" if details else "")
    return f"{line} ({status})" if status is not None else line


def api_failure(exc: ApiError, as_json: bool = False) -> NoReturn:
    """An API error as one line, or under ``--json`` as the API's error wrapper on one line."""
    from kirem.api.responses import error_body

    body = error_body(exc.status, exc.message, exc.errors) if as_json else None
    fail(describe(exc.message, exc.errors, exc.status), 1, body)


def http_failure(response: httpx.Response) -> NoReturn:
    """A server's error answer (Kirem's wrapper or Meta's error body) as one line; exit 1."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error, text = body["error"], str(body["error"].get("message", ""))
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else None
        if isinstance(details, str) and details and details not in text:
            text = f"{text}: {details}"
        message = f"{text} ({response.status_code})"
    elif isinstance(body, dict) and "message" in body:
        message = describe(str(body["message"]), body.get("errors"), response.status_code)
    else:
        first = (
            response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason_phrase
        )
        message = f"{first} ({response.status_code})"
    fail(message)


def settings_from(**overrides: Any) -> Settings:
    from pydantic import ValidationError

    from kirem.config import Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid configuration: {problems}")


def context_for(settings: Settings) -> AppContext:
    """A context without the sandbox: CLI commands and the worker reach Graph only for live channels."""
    from kirem.context import AppContext, live_graph_client
    from kirem.crypto import Sealer
    from kirem.db.engine import Database
    from kirem.ratelimit import RateLimiter

    return AppContext(
        settings=settings,
        db=Database(settings),
        sealer=Sealer.from_settings(settings),
        live_graph=live_graph_client(settings),
        sandbox_graph=None,
        limiter=RateLimiter(settings.rate_limit_per_second),
    )


def run(
    settings: Settings,
    work: Callable[[AppContext], Awaitable[T]],
    *,
    read_only: bool = False,
    as_json: bool = False,
) -> T:
    """Run ``work`` with a context on the configured database; every failure ends in one error line.

    Commands that change something migrate first (a fresh install works at once). Read-only commands
    do not: they must not write, and Alembic is the slowest part of a short command.
    """
    from kirem.api.responses import ApiError

    if read_only:
        _require_sqlite_file(settings)
    else:
        migrate_schema(settings)

    async def main() -> T:
        ctx = context_for(settings)
        try:
            return await work(ctx)
        finally:
            await ctx.aclose()

    with database_errors(hint=read_only):
        try:
            return asyncio.run(main())
        except ApiError as exc:
            api_failure(exc, as_json)


def on_account(account: str, work: AccountWork[T], *, write: bool = False, as_json: bool = False) -> T:
    """Run ``work`` on the named account: in a transaction when ``write``, else read-only."""

    async def main(ctx: AppContext) -> T:
        async with _opener(ctx, write)() as session:
            return await work(session, await account_named(session, account), ctx)

    return run(settings_from(), main, read_only=not write, as_json=as_json)


def on_project(
    account: str, project: str, work: ProjectWork[T], *, write: bool = False, as_json: bool = False
) -> T:
    """Run ``work`` on the named project, as its operator (no API key), like :func:`on_account`."""
    from kirem.tenancy.service import tenant_for_project

    async def main(ctx: AppContext) -> T:
        async with _opener(ctx, write)() as session:
            _, owner = await project_named(session, account, project)
            return await work(session, await tenant_for_project(session, owner), ctx)

    return run(settings_from(), main, read_only=not write, as_json=as_json)


def _opener(ctx: AppContext, write: bool) -> Callable[[], AbstractAsyncContextManager[AsyncSession]]:
    return ctx.db.transaction if write else ctx.db.session


def migrate_schema(settings: Settings) -> None:
    """Bring the schema up to date; a database that cannot be reached is one error line."""
    from kirem.db.migrate import upgrade

    with database_errors():
        upgrade(settings)


def migrate_schema_apart(settings: Settings) -> None:
    """:func:`migrate_schema` in a forked child: a server or worker process, which lives long, then
    never loads Alembic and the migration scripts (about 10 MB it would hold for its whole life).

    The child's failure is the command's: its one error line, its exit code."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            migrate_schema(settings)
            code = 0
        except typer.Exit as exc:
            code = exc.exit_code
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if code != 0:
        raise typer.Exit(code if code > 0 else 1)


@contextmanager
def database_errors(*, hint: bool = False) -> Iterator[None]:
    """Database failures as one ``error:`` line; ``hint`` says to migrate when the schema lags."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        advice = " (is the schema up to date? run `kirem migrate`)" if hint and _schema_gap(cause) else ""
        fail(f"database error: {cause}{advice}")
    except OSError as exc:
        fail(f"cannot reach the database: {exc.strerror or exc}")


def _schema_gap(cause: str) -> bool:
    return any(s in cause for s in ("no such table", "no such column", "does not exist"))


def _require_sqlite_file(settings: Settings) -> None:
    """A read-only command never creates an empty SQLite file where the database should be."""
    if not settings.is_sqlite:
        return
    path = settings.database_url.split(":///", 1)[-1]
    if path and path != ":memory:" and not Path(path).expanduser().exists():
        fail(f"no database at {path}: run `kirem migrate` (or `kirem serve`) first")


def show(
    rows: list[dict[str, Any]] | dict[str, Any], as_json: bool, columns: list[str] | None = None
) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    items = rows if isinstance(rows, list) else [rows]
    columns = columns or (list(items[0]) if items else [])
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*("" if item.get(c) is None else str(item.get(c)) for c in columns))
    console.print(table)


def usage_table(report: dict[str, Any]) -> Any:
    """``kirem usage``: one row per project, a total row, and the bill as the caption."""
    from rich.table import Table

    columns = (
        "outbound",
        "marketing",
        "utility",
        "authentication",
        "service",
        "inbound",
        "deliveries",
        "attempts",
    )
    bill = report["bill"]
    table = Table(
        title=f"Usage {report['month']} ({bill['plan']} plan)",
        caption=(
            f"plan fee {bill['plan_fee']:,} + usage {bill['usage_amount']:,} = "
            f"{bill['total']:,} {bill['currency']} (estimate)"
            + ("" if bill["usage_billed"] else f"; usage is not billed on the {bill['plan']} plan")
        ),
    )
    table.add_column("project", overflow="fold")
    for column in (*columns, "charges (IDR)"):
        table.add_column(column, justify="right")
    totals = [0] * (len(columns) + 1)
    for project in report["projects"]:
        messages, webhooks = project["messages"], project["webhooks"]
        values = [
            messages["outbound"],
            *(messages["by_category"].get(c, 0) for c in columns[1:5]),
            messages["inbound"],
            webhooks["deliveries"],
            webhooks["attempts"],
            project["charges"]["amount"],
        ]
        totals = [a + b for a, b in zip(totals, values, strict=True)]
        table.add_row(project["name"], *(f"{v:,}" for v in values))
    table.add_section()
    table.add_row("total", *(f"{v:,}" for v in totals))
    return table


async def account_named(session: AsyncSession, name: str) -> Account:
    from kirem.api.responses import ApiError
    from kirem.tenancy import service

    account = await service.find_account(session, name)
    if account is None:
        raise ApiError(404, f"Account {name!r} not found")
    return account


async def project_named(
    session: AsyncSession, account_name: str, project_name: str
) -> tuple[Account, Project]:
    from kirem.api.responses import ApiError
    from kirem.tenancy import service

    account = await account_named(session, account_name)
    project = await service.find_project(session, account, project_name)
    if project is None:
        raise ApiError(404, f"Project {project_name!r} not found in account {account_name!r}")
    return account, project
