"""Message templates, kept by Meta per WhatsApp Business Account and reached through a channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL, QueryParams

from kirem.analytics.params import parse_int, raise_if
from kirem.api.responses import invalid, not_found
from kirem.context import AppContext
from kirem.messaging.message_rules import INVALID_PARAMETER
from kirem.messaging.service import graph_and_token
from kirem.messaging.template_rules import NAME_PATTERN, meta_refusal, parameter_format_of, validate_template
from kirem.meta.client import MetaApiError, MetaUnavailable, objects
from kirem.meta.fields import requested_fields, select_fields
from kirem.meta.ids import is_graph_id
from kirem.tenancy.service import Tenant, resolve_channel

LIST_FILTERS = ("name", "category", "language")
PAGE_PARAMS = ("limit", "after", "before")
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000
MAX_CURSOR_LENGTH = 1024
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
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    *,
    status: str | None,
    channel_id: str | None,
    filters: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every template of the channel's WABA (all of Meta's pages), by status and ``filters``."""
    wanted = _statuses(status)
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    given = {**(filters or {}), **({"status": ",".join(wanted)} if wanted else {})}
    found = await graph.list_templates(channel.waba_id, token, **given)
    return [_summary(t) for t in found if not wanted or t.get("status") in wanted]


def _statuses(status: str | None) -> list[str]:
    """``APPROVED`` or ``APPROVED,PENDING`` (any case): Meta's statuses, else a 400 naming them."""
    wanted = [part.strip().upper() for part in (status or "").split(",") if part.strip()]
    unknown = [part for part in wanted if part not in TEMPLATE_STATUSES]
    if unknown:
        raise invalid({"status": f"must be one of {', '.join(TEMPLATE_STATUSES)}"})
    return wanted


async def template_page(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, params: Mapping[str, str], *, channel_id: str
) -> dict[str, Any]:
    """One page of templates as Meta answers it (every query parameter but the token goes to Meta),
    each template with the fields Meta always returns — or only those ``fields`` asks for."""
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    graph, token = graph_and_token(ctx, tenant, channel)
    forwarded = {k: v for k, v in params.items() if k != "access_token"}
    page = await graph.template_page(channel.waba_id, token, forwarded)
    fields = requested_fields(params.get("fields"))
    return {**page, "data": [select_fields(_summary(t), fields) for t in objects(page, "data")]}


async def summary_page(
    ctx: AppContext,
    session: AsyncSession,
    tenant: Tenant,
    query: Mapping[str, str],
    *,
    channel_id: str | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``/v1/templates``: every template, or — with ``limit``, ``after`` or ``before`` — one page
    of them and Meta's ``paging`` (its cursors), filtered by ``status``, ``name``, ``category``
    and ``language`` either way."""
    errors: dict[str, str] = {}
    filters = {k: query[k] for k in LIST_FILTERS if query.get(k)}
    paged = any(query.get(k) for k in PAGE_PARAMS)
    limit = parse_int("limit", query.get("limit"), DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE, errors)
    for cursor in ("after", "before"):
        if len(query.get(cursor) or "") > MAX_CURSOR_LENGTH:
            errors[cursor] = f"must be a cursor of at most {MAX_CURSOR_LENGTH} characters"
    raise_if(errors)
    wanted = _statuses(query.get("status"))
    if not paged:
        return await list_templates(
            ctx, session, tenant, status=query.get("status"), channel_id=channel_id, filters=filters
        ), None
    channel = await resolve_channel(session, tenant, channel_id=channel_id)
    params = {**filters, "limit": str(limit), **{k: query[k] for k in ("after", "before") if query.get(k)}}
    if wanted:
        params["status"] = ",".join(wanted)
    page = await template_page(ctx, session, tenant, params, channel_id=channel.id)
    paging = page.get("paging")
    return [_summary(t) for t in objects(page, "data")], paging if isinstance(paging, dict) else None


def own_paging(paging: Any, base_url: str, request_url: URL) -> dict[str, Any]:
    """Meta's ``paging`` with ``next``/``previous`` pointing at the request that was answered, on
    Kirem's own base URL, moved by Meta's cursors: a client that follows them stays on Kirem."""
    if not isinstance(paging, dict):
        return {}
    own_url = URL(base_url + request_url.path).replace(query=request_url.query)
    cursors = member if isinstance(member := paging.get("cursors"), dict) else {}
    result: dict[str, Any] = {"cursors": cursors} if cursors else {}
    base = own_url.remove_query_params(["after", "before"])
    for link, cursor in (("next", "after"), ("previous", "before")):
        if not isinstance(paging.get(link), str):
            continue
        value = QueryParams(URL(paging[link]).query).get(cursor) or cursors.get(cursor)
        if isinstance(value, str) and value:
            result[link] = str(base.include_query_params(**{cursor: value}))
    return result


async def create_template(
    ctx: AppContext, session: AsyncSession, tenant: Tenant, body: Any, *, channel_id: str | None
) -> dict[str, Any]:
    errors = validate_template(body)
    if errors:
        subcode, title = meta_refusal(errors)
        raise invalid(errors, meta_code=INVALID_PARAMETER, meta_subcode=subcode, meta_title=title)
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
