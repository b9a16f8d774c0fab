"""The ``kirem`` command: run the server, migrate, bootstrap, and manage tenants from a shell.

Only typer and the light ``kirem.cli_support`` are imported here; each command imports what it
needs, so ``kirem --help`` stays fast (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import typer

from kirem.cli_support import (
    AccountArg,
    JsonOpt,
    ProjectArg,
    UrlOpt,
    console,
    context_for,
    fail,
    http_failure,
    migrate_schema,
    migrate_schema_apart,
    on_account,
    on_project,
    run,
    settings_from,
    show,
)
from kirem.delivery.cli import deliveries_app, replay_app
from kirem.routing.cli import rules_app, targets_app
from kirem.users_cli import users_app

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kirem.context import AppContext
    from kirem.tenancy.models import Account
    from kirem.tenancy.service import Tenant

app = typer.Typer(
    help="Kirem: WhatsApp Business API gateway and webhook router.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # a crash must not print settings, tokens or keys
)
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
app.add_typer(targets_app, name="targets")
app.add_typer(rules_app, name="rules")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(replay_app, name="replay")
app.add_typer(users_app, name="users")
CHANNEL_COLUMNS = ["id", "kind", "phone_number_id", "waba_id", "display_phone_number"]


@app.command()
def serve(
    host: str = typer.Option(None, help="Interface to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port to listen on (default 8080)."),
    workers: int = typer.Option(
        1, min=1, help="API processes sharing the port (each a full server); use with PostgreSQL."
    ),
) -> None:
    """Run the API (and the sandbox, when enabled), migrating first; --workers N runs N processes."""
    import os

    import uvicorn

    from kirem.app import create_app
    from kirem.heap import prepare_heap
    from kirem.logs import configure_logging

    settings = settings_from(host=host, port=port)
    log_config = configure_logging(settings.log_level, settings.resolved_log_format)
    migrate_schema_apart(settings)
    console.print(
        f"Kirem listening on {settings.base_url} (sandbox {'on' if settings.sandbox_enabled else 'off'}"
        f"{f', {workers} processes' if workers > 1 else ''})"
    )
    # X-Forwarded-For is believed only from KIREM_TRUSTED_PROXIES (kirem.tenancy.allowlist), not by uvicorn
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "proxy_headers": False,
        "log_config": log_config,
    }
    if workers == 1:
        served = create_app(settings)
        prepare_heap()
        uvicorn.run(served, **options)
        return
    # each worker process builds its app from the environment: pass the command line's choices on
    os.environ["KIREM_HOST"], os.environ["KIREM_PORT"] = settings.host, str(settings.port)
    uvicorn.run("kirem.app:app_from_environment", factory=True, workers=workers, **options)


@app.command()
def worker() -> None:
    """Run inbound processing and webhook delivery alone (scale out beside `kirem serve`)."""
    import signal

    from kirem.heap import prepare_heap
    from kirem.logs import configure_logging
    from kirem.runtime import Runtime

    settings = settings_from()
    configure_logging(settings.log_level, settings.resolved_log_format)
    migrate_schema_apart(settings)

    async def main() -> None:
        ctx = context_for(settings)
        runtime = Runtime(ctx)
        prepare_heap()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        console.print(
            f"Kirem worker {runtime.worker.worker_id} running on {settings.database_url.split('@')[-1]}"
        )
        await stop.wait()
        console.print("stopping: finishing in-flight deliveries")
        await runtime.stop()
        await ctx.aclose()

    asyncio.run(main())


@app.command()
def migrate() -> None:
    """Apply database migrations (`serve`, `worker` and every changing command do it too)."""
    migrate_schema(settings_from())
    console.print("database is up to date")


@app.command()
def status(
    this_host: bool = typer.Option(
        False, "--this-host", help="Fail unless a process on this host has a fresh heartbeat."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Worker heartbeats and queue lag from the database (what /readyz reports); a health check."""
    from kirem.db.base import utcnow
    from kirem.heartbeat import host_report

    settings = settings_from()

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.session() as session:
            return await host_report(session, utcnow(), settings.heartbeat_seconds)

    report = run(settings, work, read_only=True, as_json=as_json)
    if as_json:
        typer.echo(json.dumps(report))
    else:
        rows = [
            {"field": f"{group}.{name}", "value": value}
            for group, values in report.items()
            for name, value in values.items()
        ]
        show(rows, False)
    if this_host and not report["this_host"]["live"]:
        fail(f"no process on {report['this_host']['hostname']} has a fresh heartbeat")


@app.command()
def reseal(
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be re-sealed; change nothing."),
    as_json: bool = JsonOpt,
) -> None:
    """Seal every stored secret again with the first KIREM_ENCRYPTION_KEY (after adding a new key)."""
    from kirem.reseal import reseal_all

    settings = settings_from()
    report = run(settings, lambda ctx: reseal_all(ctx, dry_run), as_json=as_json)
    if as_json:
        typer.echo(json.dumps({"rows": report.rows(), "unreadable": report.unreadable}))
    else:
        show(report.rows(), False)
    for problem in report.unreadable:
        console.print(f"[red]unreadable[/red] {problem}")
    if report.unreadable:
        fail(f"{len(report.unreadable)} value(s) open with no configured key: keep the old keys")


@app.command()
def bootstrap(
    account: str = typer.Option("default", help="Account name (created if absent)."),
    project: str = typer.Option("default", help="Project name (created if absent)."),
    plan: str = typer.Option("developer", help="developer, growth, scale or enterprise."),
    as_json: bool = JsonOpt,
) -> None:
    """Create account, project and sandbox channel if absent; always mint a new API key."""
    from kirem.tenancy.bootstrap import bootstrap as run_bootstrap

    result = run(settings_from(), lambda ctx: run_bootstrap(ctx, account, project, plan), as_json=as_json)
    if as_json:
        typer.echo(json.dumps(result))
    else:
        show([{"field": k, "value": v} for k, v in result.items()], False)


@accounts_app.command("list")
def accounts_list(as_json: bool = JsonOpt) -> None:
    """List every account with its plan."""
    from sqlalchemy import select

    from kirem.tenancy.models import Account
    from kirem.tenancy.views import account_view

    async def work(ctx: AppContext) -> list[dict[str, Any]]:
        async with ctx.db.session() as session:
            return [account_view(a) for a in (await session.execute(select(Account))).scalars()]

    show(
        run(settings_from(), work, read_only=True, as_json=as_json),
        as_json,
        ["id", "name", "plan", "created_at"],
    )


@accounts_app.command("create")
def accounts_create(
    name: str = typer.Argument(..., help="A unique name for the account.", show_default=False),
    plan: str = typer.Option("developer", help="developer, growth, scale or enterprise."),
    as_json: bool = JsonOpt,
) -> None:
    """Create an account and print its account token (shown once)."""
    from kirem.tenancy import service
    from kirem.tenancy.views import account_view

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            account = await service.create_account(session, name, plan)
            token = await service.mint_account_token(session, account)
            return {**account_view(account), "account_token": token}

    show(run(settings_from(), work, as_json=as_json), as_json, ["id", "name", "plan", "account_token"])


@accounts_app.command("set-plan")
def accounts_set_plan(
    name: str = AccountArg,
    plan: str = typer.Argument(..., help="developer, growth, scale or enterprise.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """Move an account to another plan: limits apply at once; what is over them is disabled, not deleted."""
    from kirem.plan_changes import change_plan
    from kirem.tenancy.views import account_view

    async def work(session: AsyncSession, account: Account, _ctx: AppContext) -> dict[str, Any]:
        changes = await change_plan(session, account, plan=plan)
        return {**account_view(account), "changes": changes}

    result = on_account(name, work, write=True, as_json=as_json)
    if as_json:
        show(result, True)
        return
    counts = {
        verb: ", ".join(f"{len(ids[verb])} {kind}" for kind, ids in result["changes"].items() if ids[verb])
        for verb in ("disabled", "enabled")
    }
    show(
        {**result, **{verb: text or "-" for verb, text in counts.items()}},
        False,
        ["id", "name", "plan", "disabled", "enabled"],
    )


@app.command()
def usage(
    account: str = AccountArg,
    month: str = typer.Option(
        "", help="A UTC month, YYYY-MM (default: the current month).", show_default=False
    ),
    as_json: bool = JsonOpt,
) -> None:
    """An account's metered usage per project for a month, and its estimated bill in IDR."""
    from kirem.usage.report import account_usage, parse_month

    async def work(session: AsyncSession, owner: Account, ctx: AppContext) -> dict[str, Any]:
        return await account_usage(session, owner, parse_month(month), ctx.settings.price_table)

    report = on_account(account, work, as_json=as_json)
    if as_json:
        show(report, True)
        return
    from kirem.cli_support import usage_table

    console.print(usage_table(report))


@projects_app.command("list")
def projects_list(account: str = AccountArg, as_json: bool = JsonOpt) -> None:
    """List an account's projects."""
    from sqlalchemy import select

    from kirem.tenancy.models import Project
    from kirem.tenancy.views import project_view

    async def work(session: AsyncSession, owner: Account, _ctx: AppContext) -> list[dict[str, Any]]:
        rows = await session.execute(select(Project).where(Project.account_id == owner.id))
        return [project_view(p, owner) for p in rows.scalars()]

    show(on_account(account, work, as_json=as_json), as_json, ["id", "name", "created_at"])


@projects_app.command("create")
def projects_create(
    account: str = AccountArg,
    name: str = typer.Argument(
        ..., help="A name for the project, unique in the account.", show_default=False
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Create a project (with its own webhook signing secret)."""
    from kirem.tenancy import service
    from kirem.tenancy.views import project_view

    async def work(session: AsyncSession, owner: Account, ctx: AppContext) -> dict[str, Any]:
        return project_view(await service.create_project(session, ctx.sealer, owner, name), owner)

    show(on_account(account, work, write=True, as_json=as_json), as_json, ["id", "name", "created_at"])


@projects_app.command("rotate-secret")
def projects_rotate_secret(
    account: str = AccountArg, project: str = ProjectArg, as_json: bool = JsonOpt
) -> None:
    """Issue a new webhook signing secret; the old one keeps signing alongside for 24 hours."""
    from kirem.db.base import utcnow
    from kirem.delivery.secret import rotate_webhook_secret
    from kirem.kit.params import iso

    async def work(session: AsyncSession, tenant: Tenant, ctx: AppContext) -> dict[str, Any]:
        secret = await rotate_webhook_secret(session, ctx.sealer, tenant.project, utcnow())
        return {
            "webhook_secret": secret,
            "previous_secret_expires_at": iso(tenant.project.previous_secret_expires_at),
        }

    result = on_project(account, project, work, write=True, as_json=as_json)
    show(result, as_json, ["webhook_secret", "previous_secret_expires_at"])


@keys_app.command("list")
def keys_list(account: str = AccountArg, project: str = ProjectArg, as_json: bool = JsonOpt) -> None:
    """List a project's API keys (their prefixes; a key is shown only when it is created)."""
    from kirem.db.scope import for_project
    from kirem.tenancy.models import ApiKey
    from kirem.tenancy.views import key_view

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> list[dict[str, Any]]:
        return [
            key_view(k) for k in (await session.execute(for_project(ApiKey, tenant.project_id))).scalars()
        ]

    columns = ["id", "name", "mode", "prefix", "last_used_at", "revoked_at"]
    show(on_project(account, project, work, as_json=as_json), as_json, columns)


@keys_app.command("create")
def keys_create(
    account: str = AccountArg,
    project: str = ProjectArg,
    mode: str = typer.Option("live", help="live, or test (sends only through sandbox channels)."),
    name: str = typer.Option("default", help="A label for the key."),
    scope: str = typer.Option(
        "api", help="api, or mcp (only the project's dedicated MCP endpoint; enterprise plan)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Mint an API key and print it (shown once)."""
    from kirem.tenancy import service
    from kirem.tenancy.limits import require_plan
    from kirem.tenancy.views import key_view

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        if scope == "mcp":
            require_plan(tenant.account, tenant.limits)
        key, secret = await service.mint_api_key(session, tenant.project, mode, name, scope)
        return key_view(key, secret)

    columns = ["id", "name", "mode", "scope", "key"]
    show(on_project(account, project, work, write=True, as_json=as_json), as_json, columns)


@keys_app.command("revoke")
def keys_revoke(
    account: str = AccountArg,
    project: str = ProjectArg,
    key_id: str = typer.Argument(..., help="The key's id (from `kirem keys list`).", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """Revoke an API key; it stops working at once."""
    from kirem.tenancy import service
    from kirem.tenancy.views import key_view

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        return key_view(await service.revoke_api_key(session, tenant.project, key_id))

    show(
        on_project(account, project, work, write=True, as_json=as_json), as_json, ["id", "name", "revoked_at"]
    )


@channels_app.command("list")
def channels_list(account: str = AccountArg, project: str = ProjectArg, as_json: bool = JsonOpt) -> None:
    """List a project's channels."""
    from kirem.tenancy import service
    from kirem.tenancy.views import channel_view

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> list[dict[str, Any]]:
        return [channel_view(c) for c in await service.list_channels(session, tenant.project_id)]

    show(on_project(account, project, work, as_json=as_json), as_json, [*CHANNEL_COLUMNS, "status"])


@channels_app.command("add")
def channels_add(
    account: str = AccountArg,
    project: str = ProjectArg,
    kind: str = typer.Option("sandbox", help="sandbox or live"),
    name: str = typer.Option("", help="A label for the channel."),
    phone_number_id: str = typer.Option(None, help="Meta phone number id (live)."),
    waba_id: str = typer.Option(None, help="WhatsApp Business Account id (live)."),
    access_token: str = typer.Option(None, help="Meta access token (live); stored encrypted."),
    display_phone_number: str = typer.Option("", help="The number as shown to customers (live)."),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Save a live channel without checking it with Meta first."
    ),
    subscribe_app: bool = typer.Option(
        False, "--subscribe-app", help="Subscribe the app to the WABA's webhooks if it is not (live)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Add a sandbox channel (a new emulated number) or a live one (your Meta number and token)."""
    from kirem.tenancy.channels import create_channel
    from kirem.tenancy.views import connected_view

    body = {
        "kind": kind,
        "name": name,
        "phone_number_id": phone_number_id,
        "waba_id": waba_id,
        "access_token": access_token,
        "display_phone_number": display_phone_number,
        "verify": not no_verify,
        "subscribe_app": subscribe_app,
    }

    async def work(session: AsyncSession, tenant: Tenant, ctx: AppContext) -> dict[str, Any]:
        connected = await create_channel(ctx, session, tenant.account, tenant.project, body)
        return connected_view(connected.channel, connected.check)

    show(on_project(account, project, work, write=True, as_json=as_json), as_json, CHANNEL_COLUMNS)


@sandbox_app.command("inbound")
def sandbox_inbound(
    phone_number_id: str = typer.Option(..., help="The sandbox channel's phone number id."),
    sender: str = typer.Option(
        None,
        "--from",
        help="The customer's WhatsApp number (default 62812345678 unless --username or --user-id is given).",
    ),
    username: str = typer.Option(None, help="The customer's WhatsApp username (@sheena); alone: no phone."),
    user_id: str = typer.Option(None, help="The customer's business-scoped user id (US.1349…)."),
    profile_name: str = typer.Option("Budi", help="The customer's profile name."),
    text: str = typer.Option(None, help="A text message to send."),
    message: str = typer.Option(None, help="Any inbound message object as JSON (instead of --text)."),
    url: str = UrlOpt,
) -> None:
    """Send a message to a sandbox number as a customer would (needs `kirem serve` running).

    A customer given only --username (or --user-id) writes without a phone number, as Meta delivers
    such customers.
    """
    if (text is None) == (message is None):
        fail("give exactly one of --text or --message", 2)
    try:
        payload = {"type": "text", "text": {"body": text}} if text is not None else json.loads(message)
    except json.JSONDecodeError as exc:
        fail(f"--message is not valid JSON: {exc.msg}", 2)
    if sender is None and username is None and user_id is None:
        sender = "62812345678"
    customer = {"from": sender, "username": username, "user_id": user_id}
    body = {
        "phone_number_id": phone_number_id,
        **{key: value for key, value in customer.items() if value is not None},
        "profile_name": profile_name,
        "message": payload,
    }
    _sandbox_post(url, "inbound", body)


def _sandbox_post(url: str | None, path: str, body: dict[str, Any]) -> None:
    """POST ``body`` to the running sandbox's simulator and print its answer; exit 1 on an error.

    ``KIREM_OPERATOR_TOKEN``, when set, is sent: a production server's simulator requires it.
    """
    import httpx

    settings = settings_from()
    base = (url or settings.base_url).rstrip("/")
    headers = {"Authorization": f"Bearer {settings.operator_token}"} if settings.operator_token else {}
    try:
        response = httpx.post(f"{base}/sandbox/v1/{path}", json=body, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {base}: {exc}")
    if response.status_code >= 400:
        http_failure(response)
    typer.echo(response.text)


@sandbox_app.command("echo")
def sandbox_echo(
    phone_number_id: str = typer.Option(..., help="The sandbox channel's phone number id."),
    to: str = typer.Option("62812345678", help="The customer the owner writes to."),
    text: str = typer.Option(None, help="A text message the owner sends from the phone app."),
    message: str = typer.Option(None, help="Any message object as JSON (instead of --text)."),
    url: str = UrlOpt,
) -> None:
    """Send a message as the owner on the WhatsApp Business app (coexistence `smb_message_echoes`)."""
    if (text is None) == (message is None):
        fail("give exactly one of --text or --message", 2)
    try:
        payload = {"type": "text", "text": {"body": text}} if text is not None else json.loads(message)
    except json.JSONDecodeError as exc:
        fail(f"--message is not valid JSON: {exc.msg}", 2)
    _sandbox_post(url, "echo", {"phone_number_id": phone_number_id, "to": to, "message": payload})


@sandbox_app.command("history")
def sandbox_history(
    phone_number_id: str = typer.Option(..., help="The sandbox channel's phone number id."),
    file: str = typer.Option(None, help="A JSON file with the chunk ('-' reads standard input)."),
    chunk: str = typer.Option(None, "--json", help="The chunk as JSON (instead of --file)."),
    url: str = UrlOpt,
) -> None:
    """Share one chunk of the phone app's chat history (coexistence `history` webhook).

    The chunk is {"phase"?, "chunk_order"?, "progress"?, "threads": [...]} or just the list of threads.
    """
    import sys
    from pathlib import Path

    if (file is None) == (chunk is None):
        fail("give exactly one of --file or --json", 2)
    source = "--json"
    try:
        if file is not None:
            source = file
            raw = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        else:
            raw = chunk
        parsed = json.loads(raw)
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}", 2)
    except json.JSONDecodeError as exc:
        fail(f"{source} is not valid JSON: {exc.msg}", 2)
    if isinstance(parsed, list):
        parsed = {"threads": parsed}
    if not isinstance(parsed, dict):
        fail(f"{source} must hold a JSON object or a list of threads", 2)
    _sandbox_post(url, "history", {**parsed, "phone_number_id": phone_number_id})


@sandbox_app.command("contacts")
def sandbox_contacts(
    phone_number_id: str = typer.Option(..., help="The sandbox channel's phone number id."),
    add: list[str] = typer.Option([], help="NUMBER:Full Name of a contact the owner saves (repeatable)."),
    remove: list[str] = typer.Option([], help="NUMBER of a contact the owner deletes (repeatable)."),
    url: str = UrlOpt,
) -> None:
    """Change the phone app's contacts (coexistence `smb_app_state_sync` webhook)."""
    contacts: list[dict[str, str]] = []
    for item in add:
        number, _, name = item.partition(":")
        if not number.strip() or not name.strip():
            fail(f"--add takes NUMBER:Full Name, got {item!r}", 2)
        contacts.append({"phone_number": number.strip(), "full_name": name.strip(), "action": "add"})
    contacts += [{"phone_number": number.strip(), "action": "remove"} for number in remove]
    if not contacts:
        fail("give at least one --add or --remove", 2)
    _sandbox_post(url, "contacts", {"phone_number_id": phone_number_id, "contacts": contacts})
