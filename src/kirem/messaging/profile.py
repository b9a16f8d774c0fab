"""The WhatsApp Business profile of a channel's phone number."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.context import AppContext
from kirem.db.scope import for_project
from kirem.kit.enums import ChannelStatus
from kirem.kit.errors import invalid
from kirem.messaging.message_rules import meta_error_code
from kirem.messaging.profile_rules import validate_profile_update
from kirem.messaging.service import graph_and_token
from kirem.meta.client import first_object
from kirem.tenancy.models import Channel
from kirem.tenancy.service import Tenant, resolve_channel

PROFILE_FIELDS = ("about", "address", "description", "email", "vertical", "websites", "profile_picture_url")


async def get_profile(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, *, channel_id: str | None
) -> dict[str, Any]:
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    answer = await graph.get_profile(channel.phone_number_id, token, ",".join(PROFILE_FIELDS))
    entry = first_object(answer, "data")
    nested = entry.get("business_profile")
    profile = nested if isinstance(nested, dict) else entry
    return {name: profile.get(name, [] if name == "websites" else "") for name in PROFILE_FIELDS}


async def phone_number(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, params: Mapping[str, str], *, channel: Channel
) -> dict[str, Any]:
    """The channel's phone number node as Meta answers it (``fields`` and all go to Meta)."""
    graph, token = graph_and_token(ctx, tenant, channel)
    forwarded = {k: v for k, v in params.items() if k != "access_token"}
    return await graph.phone_number(channel.phone_number_id, token, forwarded)


async def project_number(session: AsyncSession, tenant: Tenant, object_id: str) -> Channel | None:
    """The project's active channel whose phone number id is ``object_id``, if there is one."""
    stmt = for_project(Channel, tenant.project_id).where(
        Channel.status == ChannelStatus.ACTIVE, Channel.phone_number_id == object_id
    )
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def update_profile(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, body: Any, *, channel_id: str | None
) -> None:
    errors = validate_profile_update(body)
    if errors:
        raise invalid(errors, meta_code=meta_error_code(errors))
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    update = {k: v for k, v in body.items() if k != "messaging_product"}
    await graph.update_profile(channel.phone_number_id, token, update)
