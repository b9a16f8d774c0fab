"""``kirem deliveries`` and ``kirem replay``: the delivery log and replay from a shell."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from kirem.cli_support import AccountArg, JsonOpt, ProjectArg, fail, on_project, show

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from kirem.context import AppContext
    from kirem.delivery.deliveries import DeliveryFilter
    from kirem.kit.params import Window
    from kirem.tenancy.service import Tenant

deliveries_app = typer.Typer(help="Webhook deliveries of a project.", no_args_is_help=True)
replay_app = typer.Typer(help="Send deliveries again.", no_args_is_help=True)
ATTEMPT_COLUMNS = ["attempt", "status_code", "duration_ms", "is_success", "error", "created_at"]
COLUMNS = ["id", "event", "target_id", "status", "attempts", "last_status_code", "last_error", "created_at"]

StatusOpt = typer.Option(None, help="pending, succeeded, failed or skipped.")
TargetOpt = typer.Option(None, help="Only deliveries to this target id.")
EventOpt = typer.Option(None, help="Only this event type, e.g. messages.received.")
SinceOpt = typer.Option(
    None, help="Created at or after this time (ISO 8601, e.g. 2026-11-01 or …T08:00:00Z)."
)
UntilOpt = typer.Option(None, help="Created before this time (ISO 8601).")


def _filters(
    status: str | None,
    target_id: str | None,
    event: str | None,
    since: str | None,
    until: str | None,
    limit: int = 50,
) -> tuple[DeliveryFilter, Window]:
    from kirem.delivery.deliveries import parse_filter
    from kirem.kit.errors import invalid
    from kirem.kit.params import parse_window

    errors: dict[str, str] = {}
    window = parse_window(since, until, str(limit), None, errors)
    flt = parse_filter({"status": status, "target_id": target_id, "event": event}, errors)
    if errors:
        raise invalid(errors, "Invalid filters")
    return flt, window


@deliveries_app.command("list")
def list_deliveries(
    account: str = AccountArg,
    project: str = ProjectArg,
    status: str = StatusOpt,
    target_id: str = TargetOpt,
    event: str = EventOpt,
    since: str = SinceOpt,
    until: str = UntilOpt,
    limit: int = typer.Option(50, help="At most this many, newest first (1-500)."),
    as_json: bool = JsonOpt,
) -> None:
    """List a project's deliveries, newest first."""
    from kirem.delivery import deliveries as service

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> list[dict[str, Any]]:
        flt, window = _filters(status, target_id, event, since, until, limit)
        found: list[dict[str, Any]] = (
            await service.list_deliveries(session, tenant.project_id, flt, window)
        )["deliveries"]
        return found

    show(on_project(account, project, work, as_json=as_json), as_json, COLUMNS)


@deliveries_app.command("show")
def show_delivery(
    account: str = AccountArg,
    project: str = ProjectArg,
    delivery_id: str = typer.Argument(..., help="The delivery's id.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """A delivery and each of its attempts."""
    from kirem.delivery import deliveries as service

    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        return await service.get_delivery(session, tenant.project_id, delivery_id)

    result = on_project(account, project, work, as_json=as_json)
    if as_json:
        show(result, True)
        return
    show({k: v for k, v in result.items() if k != "attempt_log"}, False, [*COLUMNS, "url"])
    show(result["attempt_log"], False, ATTEMPT_COLUMNS)


def _replay(account: str, project: str, action: Any, as_json: bool) -> None:
    async def work(session: AsyncSession, tenant: Tenant, _ctx: AppContext) -> dict[str, Any]:
        return {"queued": await action(session, tenant.project_id, tenant.limits.retention_days)}

    result = on_project(account, project, work, write=True, as_json=as_json)
    typer.echo(json.dumps(result) if as_json else f"{result['queued']} queued")


@replay_app.command("delivery")
def replay_delivery(
    account: str = AccountArg,
    project: str = ProjectArg,
    delivery_id: str = typer.Argument(..., help="The delivery's id.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """Send one delivery again to its target."""
    from kirem.delivery import deliveries as service

    _replay(
        account,
        project,
        lambda session, project_id, _days: service.replay_delivery(session, project_id, delivery_id),
        as_json,
    )


@replay_app.command("event")
def replay_event(
    account: str = AccountArg,
    project: str = ProjectArg,
    event_id: str = typer.Argument(..., help="The event's id.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """Send an event again to every target it should reach now."""
    from kirem.delivery import deliveries as service

    _replay(
        account,
        project,
        lambda session, project_id, _days: service.replay_event_by_id(session, project_id, event_id),
        as_json,
    )


def interactive() -> bool:
    """Whether someone at a terminal can answer a question."""
    return sys.stdin.isatty()


@replay_app.command("bulk")
def replay_bulk(
    account: str = AccountArg,
    project: str = ProjectArg,
    status: str = typer.Option(None, help="Only deliveries in this status, e.g. failed or skipped."),
    failed: bool = typer.Option(
        False, "--failed", help="Only deliveries that did not succeed (is_success=false)."
    ),
    target_id: str = TargetOpt,
    event: str = EventOpt,
    since: str = SinceOpt,
    until: str = UntilOpt,
    everything: bool = typer.Option(
        False, "--all", help="With no filter, replay every delivery (successful ones too) without asking."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Replay every delivery matching the filters, within the plan's retention.

    With no filter this re-sends every delivery, successful ones included: it asks first at a
    terminal, and needs --all otherwise.
    """
    from kirem.delivery import deliveries as service
    from kirem.delivery.deliveries import DeliveryFilter

    unfiltered = not failed and all(v is None for v in (status, target_id, event, since, until))
    if unfiltered and not everything:
        if not interactive():
            fail(
                "no filter given: this would re-send every delivery, successful ones included; "
                "add a filter (e.g. --failed) or --all",
                2,
            )
        question = f"Re-send every delivery of {account}/{project}, successful ones included?"
        if not typer.confirm(question, default=False, err=True):
            fail("aborted: nothing replayed")

    async def action(session: Any, project_id: str, days: int) -> int:
        flt, window = _filters(status, target_id, event, since, until)
        if failed:
            flt = DeliveryFilter(flt.status, False, flt.target_id, flt.event, flt.event_id)
        return await service.bulk_replay(session, project_id, days, flt, window)

    _replay(account, project, action, as_json)
