"""The ``kirem`` command: run the server, migrate, bootstrap, and manage tenants from a shell."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError
from kirem.config import Settings
from kirem.context import AppContext, live_graph_client
from kirem.crypto import Sealer
from kirem.db.engine import Database
from kirem.db.migrate import upgrade
from kirem.db.scope import for_project
from kirem.ratelimit import RateLimiter
from kirem.tenancy import service
from kirem.tenancy.bootstrap import bootstrap as run_bootstrap
from kirem.tenancy.channels import create_channel
from kirem.tenancy.models import Account, ApiKey, Project
from kirem.tenancy.views import account_view, channel_view, key_view, project_view

app = typer.Typer(help="Kirem: WhatsApp Business API gateway and webhook router.", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts and plans.", no_args_is_help=True)
projects_app = typer.Typer(help="Projects of an account.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of a project.", no_args_is_help=True)
channels_app = typer.Typer(help="Channels (WhatsApp numbers) of a project.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Act as a customer against the built-in Meta sandbox.", no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")
app.add_typer(projects_app, name="projects")
app.add_typer(keys_app, name="keys")
app.add_typer(channels_app, name="channels")
app.add_typer(sandbox_app, name="sandbox")

console = Console(width=None if sys.stdout.isatty() else 240)
"""Piped output is not cut to 80 columns: ids and keys stay whole for scripts and logs."""
T = TypeVar("T")
JsonOpt = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _run(settings: Settings, work: Callable[[AppContext], Awaitable[T]]) -> T:
    """Migrate, then run ``work`` with a context on the configured database; API errors exit 1."""
    upgrade(settings)

    async def main() -> T:
        ctx = AppContext(
            settings=settings,
            db=Database(settings),
            sealer=Sealer.from_settings(settings),
            live_graph=live_graph_client(settings),
            sandbox_graph=None,
            limiter=RateLimiter(settings.rate_limit_per_second),
        )
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


def _print(
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


async def _account(session: AsyncSession, name: str) -> Account:
    account = await service.find_account(session, name)
    if account is None:
        raise ApiError(404, f"Account {name!r} not found")
    return account


async def _project(session: AsyncSession, account_name: str, project_name: str) -> tuple[Account, Project]:
    account = await _account(session, account_name)
    project = await service.find_project(session, account, project_name)
    if project is None:
        raise ApiError(404, f"Project {project_name!r} not found in account {account_name!r}")
    return account, project


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to listen on (default 8080)."),
) -> None:
    """Run the API (and the sandbox, when enabled) in one process, migrating first."""
    import uvicorn

    from kirem.app import create_app

    settings = _settings(host=host, port=port)
    upgrade(settings)
    console.print(
        f"Kirem listening on {settings.base_url} (sandbox {'on' if settings.sandbox_enabled else 'off'})"
    )
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level=settings.log_level)


@app.command()
def migrate() -> None:
    """Apply database migrations."""
    upgrade(_settings())
    console.print("database is up to date")


@app.command()
def bootstrap(
    account: str = typer.Option("default", help="Account name (created if absent)."),
    project: str = typer.Option("default", help="Project name (created if absent)."),
    plan: str = typer.Option("developer", help="developer, growth, scale or enterprise."),
    as_json: bool = JsonOpt,
) -> None:
    """Create account, project and sandbox channel if absent; always mint a new API key."""
    result = _run(_settings(), lambda ctx: run_bootstrap(ctx, account, project, plan))
    if as_json:
        typer.echo(json.dumps(result))
    else:
        _print([{"field": k, "value": v} for k, v in result.items()], False)


@accounts_app.command("list")
def accounts_list(as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.session() as session:
            return [account_view(a) for a in (await session.execute(select(Account))).scalars()]

    _print(_run(_settings(), work), as_json, ["id", "name", "plan", "created_at"])


@accounts_app.command("create")
def accounts_create(name: str, plan: str = "developer", as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            account = await service.create_account(session, name, plan)
            token = await service.mint_account_token(session, account)
            return {**account_view(account), "account_token": token}

    _print(_run(_settings(), work), as_json, ["id", "name", "plan", "account_token"])


@accounts_app.command("set-plan")
def accounts_set_plan(name: str, plan: str, as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        service.check_plan_name(plan)
        async with ctx.db.transaction() as session:
            account = await _account(session, name)
            account.plan = plan
            return account_view(account)

    _print(_run(_settings(), work), as_json, ["id", "name", "plan"])


@projects_app.command("list")
def projects_list(account: str, as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.session() as session:
            owner = await _account(session, account)
            rows = await session.execute(select(Project).where(Project.account_id == owner.id))
            return [project_view(p) for p in rows.scalars()]

    _print(_run(_settings(), work), as_json, ["id", "name", "created_at"])


@projects_app.command("create")
def projects_create(account: str, name: str, as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            project = await service.create_project(
                session, ctx.sealer, await _account(session, account), name
            )
            return project_view(project)

    _print(_run(_settings(), work), as_json, ["id", "name", "created_at"])


@keys_app.command("list")
def keys_list(account: str, project: str, as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.session() as session:
            _, owner = await _project(session, account, project)
            return [key_view(k) for k in (await session.execute(for_project(ApiKey, owner.id))).scalars()]

    _print(_run(_settings(), work), as_json, ["id", "name", "mode", "prefix", "last_used_at", "revoked_at"])


@keys_app.command("create")
def keys_create(
    account: str, project: str, mode: str = "live", name: str = "default", as_json: bool = JsonOpt
) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            _, owner = await _project(session, account, project)
            key, secret = await service.mint_api_key(session, owner, mode, name)
            return key_view(key, secret)

    _print(_run(_settings(), work), as_json, ["id", "name", "mode", "key"])


@keys_app.command("revoke")
def keys_revoke(account: str, project: str, key_id: str, as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            _, owner = await _project(session, account, project)
            return key_view(await service.revoke_api_key(session, owner, key_id))

    _print(_run(_settings(), work), as_json, ["id", "name", "revoked_at"])


@channels_app.command("list")
def channels_list(account: str, project: str, as_json: bool = JsonOpt) -> None:
    async def work(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.session() as session:
            _, owner = await _project(session, account, project)
            return [channel_view(c) for c in await service.list_channels(session, owner.id)]

    _print(
        _run(_settings(), work),
        as_json,
        ["id", "kind", "phone_number_id", "waba_id", "display_phone_number", "status"],
    )


@channels_app.command("add")
def channels_add(
    account: str,
    project: str,
    kind: str = typer.Option("sandbox", help="sandbox or live"),
    name: str = typer.Option("", help="A label for the channel."),
    phone_number_id: str = typer.Option(None, help="Meta phone number id (live)."),
    waba_id: str = typer.Option(None, help="WhatsApp Business Account id (live)."),
    access_token: str = typer.Option(None, help="Meta access token (live); stored encrypted."),
    display_phone_number: str = typer.Option("", help="The number as shown to customers (live)."),
    as_json: bool = JsonOpt,
) -> None:
    body = {
        "kind": kind,
        "name": name,
        "phone_number_id": phone_number_id,
        "waba_id": waba_id,
        "access_token": access_token,
        "display_phone_number": display_phone_number,
    }

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            owner_account, owner = await _project(session, account, project)
            return channel_view(await create_channel(ctx, session, owner_account, owner, body))

    _print(
        _run(_settings(), work), as_json, ["id", "kind", "phone_number_id", "waba_id", "display_phone_number"]
    )


@sandbox_app.command("inbound")
def sandbox_inbound(
    phone_number_id: str = typer.Option(..., help="The sandbox channel's phone number id."),
    sender: str = typer.Option("62812345678", "--from", help="The customer's WhatsApp number."),
    profile_name: str = typer.Option("Budi", help="The customer's profile name."),
    text: str = typer.Option(None, help="A text message to send."),
    message: str = typer.Option(None, help="Any inbound message object as JSON (instead of --text)."),
    url: str = typer.Option(None, help="The running server (default http://KIREM_HOST:KIREM_PORT)."),
) -> None:
    """Send a message to a sandbox number as a customer would (needs `kirem serve` running)."""
    if (text is None) == (message is None):
        console.print("[red]error:[/red] give exactly one of --text or --message")
        raise typer.Exit(2)
    try:
        payload = {"type": "text", "text": {"body": text}} if text is not None else json.loads(message)
    except json.JSONDecodeError as exc:
        console.print(f"[red]error:[/red] --message is not valid JSON: {exc.msg}")
        raise typer.Exit(2) from exc
    body = {
        "phone_number_id": phone_number_id,
        "from": sender,
        "profile_name": profile_name,
        "message": payload,
    }
    base = (url or _settings().base_url).rstrip("/")
    try:
        response = httpx.post(f"{base}/sandbox/v1/inbound", json=body, timeout=30)
    except httpx.HTTPError as exc:
        console.print(f"[red]error:[/red] cannot reach {base}: {exc}")
        raise typer.Exit(1) from exc
    typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)
