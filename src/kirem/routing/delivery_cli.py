"""``kirem deliveries`` and ``kirem replay``: the delivery log and replay from a shell."""

from __future__ import annotations

from typing import Any

import typer

from kirem.analytics.params import Window, parse_window
from kirem.api.responses import invalid
from kirem.cli_support import JsonOpt, project_named, run, settings_from, show
from kirem.context import AppContext
from kirem.routing import deliveries as service
from kirem.routing.deliveries import DeliveryFilter
from kirem.routing.log_routes import parse_filter
from kirem.tenancy.service import account_limits

deliveries_app = typer.Typer(help="Webhook deliveries of a project.", no_args_is_help=True)
replay_app = typer.Typer(help="Send deliveries again.", no_args_is_help=True)
ATTEMPT_COLUMNS = ["attempt", "status_code", "duration_ms", "is_success", "error", "created_at"]
COLUMNS = ["id", "event", "target_id", "status", "attempts", "last_status_code", "last_error", "created_at"]


def _filters(
    status: str | None,
    target_id: str | None,
    event: str | None,
    since: str | None,
    until: str | None,
    limit: int = 50,
) -> tuple[DeliveryFilter, Window]:
    errors: dict[str, str] = {}
    window = parse_window(since, until, str(limit), None, errors)
    flt = parse_filter({"status": status, "target_id": target_id, "event": event}, errors)
    if errors:
        raise invalid(errors, "Invalid filters")
    return flt, window


@deliveries_app.command("list")
def list_deliveries(
    account: str,
    project: str,
    status: str = typer.Option(None, help="pending, succeeded, failed or skipped"),
    target_id: str = typer.Option(None),
    event: str = typer.Option(None, help="an event type, e.g. messages.received"),
    since: str = typer.Option(None),
    until: str = typer.Option(None),
    limit: int = typer.Option(50),
    as_json: bool = JsonOpt,
) -> None:
    async def work(ctx: AppContext) -> list[dict[str, Any]]:
        flt, window = _filters(status, target_id, event, since, until, limit)
        async with ctx.db.session() as session:
            _, owner = await project_named(session, account, project)
            return (await service.list_deliveries(session, owner.id, flt, window))["deliveries"]

    show(run(settings_from(), work), as_json, COLUMNS)


@deliveries_app.command("show")
def show_delivery(account: str, project: str, delivery_id: str, as_json: bool = JsonOpt) -> None:
    """A delivery and each of its attempts."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.session() as session:
            _, owner = await project_named(session, account, project)
            return await service.get_delivery(session, owner.id, delivery_id)

    result = run(settings_from(), work)
    if as_json:
        show(result, True)
        return
    show({k: v for k, v in result.items() if k != "attempts"}, False, [*COLUMNS, "url"])
    show(result["attempts"], False, ATTEMPT_COLUMNS)


def _replay(account: str, project: str, action: Any) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.db.transaction() as session:
            owner_account, owner = await project_named(session, account, project)
            return {"queued": await action(session, owner.id, account_limits(owner_account).retention_days)}

    result = run(settings_from(), work)
    typer.echo(f"{result['queued']} queued")


@replay_app.command("delivery")
def replay_delivery(account: str, project: str, delivery_id: str) -> None:
    _replay(
        account,
        project,
        lambda session, project_id, _days: service.replay_delivery(session, project_id, delivery_id),
    )


@replay_app.command("event")
def replay_event(account: str, project: str, event_id: str) -> None:
    """Send an event again to every target it should reach now."""
    _replay(
        account,
        project,
        lambda session, project_id, _days: service.replay_event_by_id(session, project_id, event_id),
    )


@replay_app.command("bulk")
def replay_bulk(
    account: str,
    project: str,
    status: str = typer.Option(None, help="e.g. failed or skipped"),
    failed: bool = typer.Option(
        False, "--failed", help="every delivery that did not succeed (is_success=false)"
    ),
    target_id: str = typer.Option(None),
    event: str = typer.Option(None),
    since: str = typer.Option(None),
    until: str = typer.Option(None),
) -> None:
    """Replay every delivery matching the filters, within the plan's retention."""

    async def action(session: Any, project_id: str, days: int) -> int:
        flt, window = _filters(status, target_id, event, since, until)
        if failed:
            flt = DeliveryFilter(flt.status, False, flt.target_id, flt.event, flt.event_id)
        return await service.bulk_replay(session, project_id, days, flt, window)

    _replay(account, project, action)
