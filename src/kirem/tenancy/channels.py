"""Connecting phone numbers: a sandbox number from the built-in emulator, or a live Meta number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.db.scope import for_project
from kirem.kit.enums import ChannelStatus
from kirem.kit.errors import Conflict, invalid
from kirem.meta.ids import is_graph_id
from kirem.sandbox.provisioning import provision_number
from kirem.tenancy.live_checks import LiveCheck, check_live_channel
from kirem.tenancy.models import Account, Channel, Project
from kirem.tenancy.service import add_channel, check_channel_quota

LIVE_FIELDS = ("phone_number_id", "waba_id", "access_token")
LIVE_FLAGS = ("verify", "subscribe_app")


@dataclass(frozen=True)
class Connected:
    """A new channel and, for a live one, what Graph said when it was checked (None: unchecked)."""

    channel: Channel
    check: LiveCheck | None = None


async def create_sandbox_channel(
    ctx: AppContext, session: AsyncSession, account: Account, project: Project, name: str = "Sandbox"
) -> Channel:
    if not ctx.settings.sandbox_enabled:
        raise Conflict("The sandbox is disabled on this server (KIREM_SANDBOX=false)")
    await check_channel_quota(session, account)
    number = await provision_number(session, verified_name=name or "Kirem Sandbox")
    return await add_channel(
        session,
        ctx.sealer,
        project,
        kind="sandbox",
        name=name,
        phone_number_id=number.phone_number_id,
        waba_id=number.waba_id,
        access_token=number.access_token,
        display_phone_number=number.display_phone_number,
    )


async def create_channel(
    ctx: AppContext, session: AsyncSession, account: Account, project: Project, body: dict[str, Any]
) -> Connected:
    """Connect a sandbox number, or a live one once Graph accepts its token, number and WABA.

    ``verify: false`` saves a live channel unchecked; ``subscribe_app: true`` subscribes the app to
    the WABA's webhooks when it is not yet.
    """
    kind = body.get("kind", "live")
    name = body.get("name") or ""
    if not isinstance(name, str) or len(name) > 200:
        raise invalid({"name": "must be a string of at most 200 characters"})
    if kind == "sandbox":
        return Connected(await create_sandbox_channel(ctx, session, account, project, name or "Sandbox"))
    if kind != "live":
        raise invalid({"kind": "must be 'live' or 'sandbox'"})
    errors = {f: "is required" for f in LIVE_FIELDS if not isinstance(body.get(f), str) or not body.get(f)}
    for field in ("phone_number_id", "waba_id"):
        value = body.get(field)
        if field not in errors and not is_graph_id(value):
            errors[field] = "must be Meta's numeric id"
    for flag in LIVE_FLAGS:
        if flag in body and not isinstance(body[flag], bool):
            errors[flag] = "must be true or false"
    if errors:
        raise invalid(errors)
    await check_channel_quota(session, account)
    check = None
    if body.get("verify", True):
        check = await check_live_channel(
            ctx.live_graph,
            phone_number_id=body["phone_number_id"],
            waba_id=body["waba_id"],
            token=body["access_token"],
            app_id=ctx.settings.meta_app_id,
            subscribe=bool(body.get("subscribe_app", False)),
        )
    display = str(body.get("display_phone_number") or (check.display_phone_number if check else ""))
    channel = await add_channel(
        session,
        ctx.sealer,
        project,
        kind="live",
        name=name,
        phone_number_id=body["phone_number_id"],
        waba_id=body["waba_id"],
        access_token=body["access_token"],
        display_phone_number=display[:32],
    )
    return Connected(channel, check)


async def first_sandbox_channel(session: AsyncSession, project: Project) -> Channel | None:
    stmt = for_project(Channel, project.id).where(
        Channel.kind == "sandbox", Channel.status == ChannelStatus.ACTIVE
    )
    return (await session.execute(stmt.order_by(Channel.created_at).limit(1))).scalar_one_or_none()
