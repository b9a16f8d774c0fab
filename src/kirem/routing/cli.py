"""``kirem targets …`` and ``kirem rules …``: the routing services from a shell.

Registered by ``kirem.cli``: ``app.add_typer(targets_app, name="targets")`` and
``app.add_typer(rules_app, name="rules")``. The services are the API's (``kirem.routing.targets``,
``kirem.routing.rules``), acting for the project without an API key.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import typer

from kirem.cli_support import AccountArg, JsonOpt, ProjectArg, fail, on_project, show

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kirem.context import AppContext
    from kirem.routing.models import WebhookTarget
    from kirem.tenancy.service import Tenant

targets_app = typer.Typer(help="Webhook targets of a project.", no_args_is_help=True)
rules_app = typer.Typer(help="Routing rules of a project.", no_args_is_help=True)

TARGET_COLUMNS = ["id", "url", "payload_format", "events", "enabled", "disabled_reason", "description"]
RULE_COLUMNS = ["id", "name", "enabled", "target_ids", "conditions"]

Delete = Callable[["AsyncSession", "Tenant", str], Awaitable[None]]
TargetChange = Callable[["AsyncSession", "Tenant", "AppContext"], Awaitable["WebhookTarget"]]
TargetIdArg = typer.Argument(..., help="The target's id (from `kirem targets list`).", show_default=False)


def _show(rows: Any, as_json: bool, columns: list[str]) -> None:
    if not as_json:
        items = rows if isinstance(rows, list) else [rows]
        rows = [
            {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in item.items()} for item in items
        ]
    show(rows, as_json, columns)


def _json_option(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        fail(f"{name} is not valid JSON: {exc.msg}", 2)


def _headers(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    headers: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition(":")
        if not sep:
            fail(f"--header {item!r}: expected 'Name: value'", 2)
        headers[name.strip()] = value.strip()
    return headers


def _schedule(value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        return [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        fail("--retry-schedule: expected seconds separated by commas, e.g. 0,5,300,1800", 2)


def _production(ctx: AppContext) -> bool:
    return ctx.settings.env == "production"


def _given(
    url: str | None,
    description: str | None,
    payload_format: str | None,
    event: list[str] | None,
    header: list[str] | None,
    timeout: float | None,
    max_attempts: int | None,
    retry_schedule: str | None,
) -> dict[str, Any]:
    """The target options given on the command line, as the API's body fields."""
    fields = {
        "url": url,
        "description": description,
        "payload_format": payload_format,
        "events": list(event) if event else None,
        "headers": _headers(header),
        "timeout_seconds": timeout,
        "max_attempts": max_attempts,
        "retry_schedule": _schedule(retry_schedule),
    }
    return {key: value for key, value in fields.items() if value is not None}


def _change_target(account: str, project: str, change: TargetChange, as_json: bool) -> None:
    """Run ``change`` on the project and print the target it created or changed."""
    from kirem.routing import targets

    async def work(session: AsyncSession, tenant: Tenant, ctx: AppContext) -> dict[str, Any]:
        return targets.target_view(ctx.sealer, await change(session, tenant, ctx))

    _show(on_project(account, project, work, write=True, as_json=as_json), as_json, TARGET_COLUMNS)


# Targets -------------------------------------------------------------------------------------


@targets_app.command("list")
def targets_list(account: str = AccountArg, project: str = ProjectArg, as_json: bool = JsonOpt) -> None:
    """List the project's webhook targets."""
    from kirem.routing import targets

    async def work(session: AsyncSession, tenant: Tenant, ctx: AppContext) -> list[dict[str, Any]]:
        return [
            targets.target_view(ctx.sealer, t) for t in await targets.list_targets(session, tenant.project_id)
        ]

    _show(on_project(account, project, work, as_json=as_json), as_json, TARGET_COLUMNS)


EventOpt = typer.Option(None, "--event", help="Subscribe to this event type (repeat); none = every event.")
HeaderOpt = typer.Option(
    None, "--header", help="Custom header 'Name: value' (repeat); on update 'Name: ****' keeps its value."
)
FormatOpt = typer.Option(None, "--format", help="Payload format: kirem or meta.")
TimeoutOpt = typer.Option(None, "--timeout", help="Seconds to wait for an answer (1-30, default 10).")
AttemptsOpt = typer.Option(None, "--max-attempts", help="Attempts before giving up (1-20, default 8).")
ScheduleOpt = typer.Option(
    None, "--retry-schedule", help="Waits in seconds before each attempt, e.g. 0,5,300,1800."
)


@targets_app.command("create")
def targets_create(
    account: str = AccountArg,
    project: str = ProjectArg,
    url: str = typer.Argument(
        ..., help="Where deliveries are POSTed (https in production).", show_default=False
    ),
    description: str = typer.Option(None, help="What the target is for (at most 500 characters)."),
    payload_format: str = FormatOpt,
    event: list[str] = EventOpt,
    header: list[str] = HeaderOpt,
    timeout: float = TimeoutOpt,
    max_attempts: int = AttemptsOpt,
    retry_schedule: str = ScheduleOpt,
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a webhook target."""
    from kirem.routing import targets

    body = _given(url, description, payload_format, event, header, timeout, max_attempts, retry_schedule)
    if disabled:
        body["enabled"] = False

    async def create(session: AsyncSession, tenant: Tenant, ctx: AppContext) -> WebhookTarget:
        return await targets.create_target(
            session, tenant, body, sealer=ctx.sealer, production=_production(ctx)
        )

    _change_target(account, project, create, as_json)


@targets_app.command("update")
def targets_update(
    account: str = AccountArg,
    project: str = ProjectArg,
    target_id: str = TargetIdArg,
    url: str = typer.Option(None, help="A new URL."),
    description: str = typer.Option(None, help="A new description."),
    payload_format: str = FormatOpt,
    event: list[str] = EventOpt,
    all_events: bool = typer.Option(False, "--all-events", help="Subscribe to every event type."),
    header: list[str] = HeaderOpt,
    clear_headers: bool = typer.Option(False, "--clear-headers", help="Remove every custom header."),
    timeout: float = TimeoutOpt,
    max_attempts: int = AttemptsOpt,
    retry_schedule: str = ScheduleOpt,
    default_schedule: bool = typer.Option(
        False, "--default-schedule", help="Go back to the default retry schedule."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Change a webhook target: only the options given change (headers are replaced as a whole)."""
    from kirem.routing import targets

    body = _given(url, description, payload_format, event, header, timeout, max_attempts, retry_schedule)
    if all_events:
        body["events"] = []
    if clear_headers:
        body["headers"] = {}
    if default_schedule:
        body["retry_schedule"] = None

    async def update(session: AsyncSession, tenant: Tenant, ctx: AppContext) -> WebhookTarget:
        return await targets.update_target(
            session, tenant, target_id, body, sealer=ctx.sealer, production=_production(ctx)
        )

    _change_target(account, project, update, as_json)


def _enabling(enabled: bool) -> Callable[..., None]:
    """``targets enable`` and ``targets disable``: one command but for the state it sets."""

    def command(
        account: str = AccountArg,
        project: str = ProjectArg,
        target_id: str = TargetIdArg,
        as_json: bool = JsonOpt,
    ) -> None:
        from kirem.routing import targets

        async def change(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> WebhookTarget:
            return await targets.set_target_enabled(session, tenant, target_id, enabled)

        _change_target(account, project, change, as_json)

    return command


targets_app.command(
    "disable", help="Stop deliveries to a target (its events are kept as skipped deliveries, replayable)."
)(_enabling(False))
targets_app.command(
    "enable", help="Enable a target again (clears why and since when it was disabled or failing)."
)(_enabling(True))


def _delete(account: str, project: str, item_id: str, delete: Delete, as_json: bool) -> None:
    """Delete a target or a rule of the project by its id."""

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        await delete(session, tenant, item_id)
        return {"id": item_id, "deleted": True}

    _show(on_project(account, project, work, write=True, as_json=as_json), as_json, ["id", "deleted"])


@targets_app.command("delete")
def targets_delete(
    account: str = AccountArg,
    project: str = ProjectArg,
    target_id: str = TargetIdArg,
    as_json: bool = JsonOpt,
) -> None:
    """Delete a target, its deliveries, and its id from every rule."""
    from kirem.routing import targets

    _delete(account, project, target_id, targets.delete_target, as_json)


# Rules ---------------------------------------------------------------------------------------


@rules_app.command("list")
def rules_list(account: str = AccountArg, project: str = ProjectArg, as_json: bool = JsonOpt) -> None:
    """List the project's routing rules."""
    from kirem.routing import rules

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> list[dict[str, Any]]:
        return [rules.rule_view(r) for r in await rules.list_rules(session, tenant.project_id)]

    _show(on_project(account, project, work, as_json=as_json), as_json, RULE_COLUMNS)


@rules_app.command("create")
def rules_create(
    account: str = AccountArg,
    project: str = ProjectArg,
    name: str = typer.Argument(..., help="A name for the rule.", show_default=False),
    target: list[str] = typer.Option(..., "--target", help="A target id the rule sends to (repeat)."),
    conditions: str = typer.Option(
        None,
        help='Conditions as JSON, e.g. \'{"message_types": ["text"], "keywords": ["harga"]}\'.',
    ),
    disabled: bool = typer.Option(False, "--disabled", help="Create it disabled."),
    as_json: bool = JsonOpt,
) -> None:
    """Create a routing rule."""
    from kirem.routing import rules

    body: dict[str, Any] = {"name": name, "target_ids": list(target)}
    if conditions is not None:
        body["conditions"] = _json_option(conditions, "--conditions")
    if disabled:
        body["enabled"] = False

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        return rules.rule_view(await rules.create_rule(session, tenant, body))

    _show(on_project(account, project, work, write=True, as_json=as_json), as_json, RULE_COLUMNS)


@rules_app.command("delete")
def rules_delete(
    account: str = AccountArg,
    project: str = ProjectArg,
    rule_id: str = typer.Argument(..., help="The rule's id (from `kirem rules list`).", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """Delete a routing rule."""
    from kirem.routing import rules

    _delete(account, project, rule_id, rules.delete_rule, as_json)


@rules_app.command("test")
def rules_test(
    account: str = AccountArg,
    project: str = ProjectArg,
    event: str = typer.Option(
        None, help='A Kirem event as JSON: {"event": "messages.received", "data": {…}}.'
    ),
    event_type: str = typer.Option(None, "--type", help="Event type (default messages.received)."),
    message_type: str = typer.Option(None, help="Message type: text, image, interactive, …"),
    sender: str = typer.Option(None, "--from", help="The customer's number."),
    text: list[str] = typer.Option(None, "--text", help="Text, caption or reply title (repeat)."),
    channel_id: str = typer.Option(None, help="Channel id or phone number id."),
    as_json: bool = JsonOpt,
) -> None:
    """Show which targets an event would reach and why; nothing is sent."""
    from kirem.routing import rules

    if event is not None:
        sample = _json_option(event, "--event")
    else:
        short = {
            "type": event_type,
            "message_type": message_type,
            "from": sender,
            "text": list(text) if text else None,
            "channel_id": channel_id,
        }
        sample = {k: v for k, v in short.items() if v is not None}

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        return await rules.run_rule_test(session, tenant, {"event": sample})

    answer = on_project(account, project, work, as_json=as_json)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    _show(answer["targets"], False, ["target_id", "url", "selected", "reason", "rule_ids"])
    typer.echo("facts: " + json.dumps(answer["facts"]))
