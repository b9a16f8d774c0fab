"""Shared pieces of the ``kirem`` commands: settings, a context, tables, and tenant look-ups."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError
from kirem.config import Settings
from kirem.context import AppContext, live_graph_client
from kirem.crypto import Sealer
from kirem.db.engine import Database
from kirem.db.migrate import upgrade
from kirem.ratelimit import RateLimiter
from kirem.tenancy import service
from kirem.tenancy.models import Account, Project

console = Console(width=None if sys.stdout.isatty() else 240)
"""Piped output is not cut to 80 columns: ids and keys stay whole for scripts and logs."""
T = TypeVar("T")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


def settings_from(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def context_for(settings: Settings) -> AppContext:
    """A context without the sandbox: CLI commands and the worker reach Graph only for live channels."""
    return AppContext(
        settings=settings,
        db=Database(settings),
        sealer=Sealer.from_settings(settings),
        live_graph=live_graph_client(settings),
        sandbox_graph=None,
        limiter=RateLimiter(settings.rate_limit_per_second),
    )


def run(settings: Settings, work: Callable[[AppContext], Awaitable[T]]) -> T:
    """Migrate, then run ``work`` with a context on the configured database; API errors exit 1."""
    upgrade(settings)

    async def main() -> T:
        ctx = context_for(settings)
        try:
            return await work(ctx)
        finally:
            await ctx.aclose()

    try:
        return asyncio.run(main())
    except ApiError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        if exc.errors:
            console.print(json.dumps(exc.errors))
        raise typer.Exit(1) from exc


def show(
    rows: list[dict[str, Any]] | dict[str, Any], as_json: bool, columns: list[str] | None = None
) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    items = rows if isinstance(rows, list) else [rows]
    columns = columns or (list(items[0]) if items else [])
    table = Table()
    for column in columns:
        table.add_column(column, overflow="fold")
    for item in items:
        table.add_row(*("" if item.get(c) is None else str(item.get(c)) for c in columns))
    console.print(table)


async def account_named(session: AsyncSession, name: str) -> Account:
    account = await service.find_account(session, name)
    if account is None:
        raise ApiError(404, f"Account {name!r} not found")
    return account


async def project_named(
    session: AsyncSession, account_name: str, project_name: str
) -> tuple[Account, Project]:
    account = await account_named(session, account_name)
    project = await service.find_project(session, account, project_name)
    if project is None:
        raise ApiError(404, f"Project {project_name!r} not found in account {account_name!r}")
    return account, project
