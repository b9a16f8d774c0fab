"""Message templates, kept by Meta per WhatsApp Business Account and reached through a channel."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import invalid, not_found
from kirem.context import AppContext
from kirem.messaging.service import graph_and_token
from kirem.messaging.template_rules import NAME_PATTERN, parameter_format_of, validate_template
from kirem.meta.client import MetaApiError, MetaUnavailable
from kirem.meta.ids import is_graph_id
from kirem.tenancy.service import Tenant, resolve_channel

TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "PENDING_DELETION")


def _summary(template: dict[str, Any]) -> dict[str, Any]:
    """Meta's template object as Meta gave it (``sub_category``, ``previous_category``,
    ``rejected_reason``… kept), with the fields Meta always returns present, so that clients
    which index them strictly (pywa reads ``parameter_format``) get them even from an older answer."""
    components = template.get("components") or []
    return {
        **template,
        "name": template.get("name"),
        "parameter_format": template.get("parameter_format") or parameter_format_of(components),
        "components": components,
        "language": template.get("language"),
        "status": template.get("status"),
        "category": template.get("category"),
        "id": str(template.get("id")),
    }


async def list_templates(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, *, status: str | None, channel_id: str | None
) -> list[dict[str, Any]]:
    if status is not None:
        status = status.upper()
        if status not in TEMPLATE_STATUSES:
            raise invalid({"status": f"must be one of {', '.join(TEMPLATE_STATUSES)}"})
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    templates = await graph.list_templates(channel.waba_id, token, status=status)
    return [_summary(t) for t in templates if status is None or t.get("status") == status]


async def create_template(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, body: Any, *, channel_id: str | None
) -> dict[str, Any]:
    errors = validate_template(body)
    if errors:
        raise invalid(errors)
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    answer = await graph.create_template(channel.waba_id, token, body)
    template_id = str(answer.get("id"))
    if not is_graph_id(template_id):
        raise MetaUnavailable("Meta API answered the template creation without a template id")
    return {"id": template_id, "status": answer.get("status"), "category": answer.get("category")}


def check_template_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise invalid({"name": "must be a template name: 1 to 512 of a-z, 0-9 and _"})


async def delete_template(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, name: str, *, channel_id: str | None
) -> None:
    check_template_name(name)
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    try:
        await graph.delete_template(channel.waba_id, token, name)
    except MetaApiError as exc:
        if exc.http_status == 404:
            raise not_found("Template") from exc
        raise
