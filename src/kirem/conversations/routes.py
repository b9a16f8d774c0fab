"""``/v1/conversations``: the inbox over the public API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.body import read_json_object
from kirem.api.deps import get_context, get_session, get_tenant
from kirem.api.idempotency import idempotent
from kirem.api.responses import ok
from kirem.context import AppContext
from kirem.conversations import service
from kirem.kit.errors import invalid
from kirem.kit.params import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, parse_int, raise_if
from kirem.tenancy.service import Tenant

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
MAX_TEXT = 4096


def _page(limit: str | None, offset: str | None) -> tuple[int, int]:
    errors: dict[str, str] = {}
    page = (
        parse_int("limit", limit, DEFAULT_LIMIT, 1, MAX_LIMIT, errors),
        parse_int("offset", offset, 0, 0, MAX_OFFSET, errors),
    )
    raise_if(errors)
    return page


@router.get("", summary="Conversations, most recently active first")
async def list_conversations(
    status: str | None = Query(None),
    customer: str | None = Query(None, description="The customer's phone number, in any notation"),
    limit: str | None = Query(None),
    offset: str | None = Query(None),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    size, start = _page(limit, offset)
    total, rows = await service.list_conversations(
        session, tenant.project_id, status=status, customer=customer, limit=size, offset=start
    )
    data = {
        "total": total,
        "limit": size,
        "offset": start,
        "conversations": [service.conversation_view(c) for c in rows],
    }
    return ok(data, "Conversations retrieved successfully")


@router.get("/{conversation_id}", summary="A conversation with its timeline (oldest first, paginated)")
async def get_conversation(
    conversation_id: str,
    limit: str | None = Query(None),
    offset: str | None = Query(None),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    size, start = _page(limit, offset)
    conversation = await service.get_conversation(session, tenant.project_id, conversation_id)
    total, entries = await service.timeline(
        session, tenant.project_id, conversation, limit=size, offset=start
    )
    messages = [service.timeline_entry_view(e) for e in entries]
    timeline = {"total": total, "limit": size, "offset": start, "messages": messages}
    return ok(
        {**service.conversation_view(conversation), "timeline": timeline},
        "Conversation retrieved successfully",
    )


@router.patch("/{conversation_id}", summary="Change a conversation's status")
async def update_conversation(
    conversation_id: str,
    request: Request,
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    body = await read_json_object(request)
    unknown = set(body) - {"status"}
    if unknown or "status" not in body:
        raise invalid({name: "unknown field" for name in sorted(unknown)} or {"status": "is required"})
    conversation = await service.set_status(session, tenant.project_id, conversation_id, body["status"])
    await session.commit()
    return ok(service.conversation_view(conversation), "Conversation updated successfully")


@router.post("/{conversation_id}/messages", summary="Reply to the customer (text, or any message body)")
async def reply(
    conversation_id: str,
    request: Request,
    ctx: AppContext = Depends(get_context),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    async def execute() -> Response:
        body = await read_json_object(request)
        if "type" not in body and isinstance(body.get("text"), str):
            if len(body["text"]) > MAX_TEXT:
                raise invalid({"text": f"at most {MAX_TEXT} characters"})
            body = {"type": "text", "text": {"body": body["text"]}}
        answer = await service.reply(ctx, session, tenant, conversation_id, body, author="api")
        return ok(answer, "Message sent successfully", 201)

    return await idempotent(request, ctx, tenant, execute)


contacts_router = APIRouter(prefix="/v1/contacts", tags=["conversations"])


@contacts_router.get("", summary="Contacts synced from the WhatsApp Business app (coexistence)")
async def list_contacts(
    channel_id: str | None = Query(None),
    limit: str | None = Query(None),
    offset: str | None = Query(None),
    session: AsyncSession = Depends(get_session),
    tenant: Tenant = Depends(get_tenant),
) -> Response:
    size, start = _page(limit, offset)
    total, contacts = await service.list_contacts(
        session, tenant.project_id, channel_id=channel_id, limit=size, offset=start
    )
    data = {
        "total": total,
        "limit": size,
        "offset": start,
        "contacts": [service.contact_view(c) for c in contacts],
    }
    return ok(data, "Contacts retrieved successfully")
