"""``/v1/conversations``: the inbox over the public API."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request, Response

from kirem.api.body import read_json_object
from kirem.api.calls import CallDep
from kirem.api.deps import SessionDep, TenantDep
from kirem.api.listing import PageDep, listed
from kirem.api.responses import ok
from kirem.api.route_docs import answers
from kirem.api.schemas import (
    AUTHENTICATED,
    BODY,
    IDEMPOTENT,
    Envelope,
    answer,
    idempotency,
    one_of,
    operation,
    request_body,
    responses,
    typed_query,
)
from kirem.conversations import service
from kirem.conversations.models import CONVERSATION_STATUSES
from kirem.conversations.schemas import (
    ContactPage,
    ConversationDetail,
    ConversationPage,
    ConversationUpdate,
    Reply,
)
from kirem.conversations.schemas import Conversation as ConversationModel
from kirem.kit.errors import invalid
from kirem.kit.params import raise_if
from kirem.messaging.schemas import SENT_EXAMPLE, MessageSent

router = APIRouter(prefix="/v1/conversations", tags=["conversations"])
MAX_TEXT = 4096
CONVERSATION = {
    "id": "9b2f6c1e-4d3a-4e5f-8a7b-6c5d4e3f2a1b",
    "status": "open",
    "customer_phone": "62812345678",
    "customer_user_id": "ID.13491208655302741918",
    "customer_parent_user_id": None,
    "customer_username": None,
    "customer_name": "Budi",
    "channel_id": "chan_5b1e2d3c4a5f6e7d8c9b0a1f",
    "last_customer_message_at": "2026-11-29T09:58:00Z",
    "window_open": True,
    "human_active_until": None,
    "updated_at": "2026-11-29T10:00:00Z",
    "created_at": "2026-11-20T08:00:00Z",
}
TIMELINE_ENTRY = {
    "id": "msg_2a3b4c5d6e7f8a9b0c1d2e3f",
    "message_id": "wamid.HBgLNjI4MTIzNDU2NzhGFgQ0NDMzMzc3RUQ1OEFG",
    "sender": "customer",
    "direction": "inbound",
    "type": "text",
    "text": "Berapa harganya?",
    "status": "received",
    "error_message": None,
    "created_at": "2026-11-29T09:58:00Z",
}


@router.get(
    "",
    summary="Conversations, most recently active first",
    **listed(ConversationPage, "Conversations retrieved successfully", "conversations", CONVERSATION),
)
async def list_conversations(
    session: SessionDep,
    tenant: TenantDep,
    page: PageDep,
    status: str | None = typed_query(one_of(CONVERSATION_STATUSES), "Only conversations in this status"),
    customer: str | None = Query(None, description="The customer's phone number, in any notation, or BSUID"),
) -> Response:
    raise_if(page.errors)
    total, rows = await service.list_conversations(
        session, tenant.project_id, status=status, customer=customer, limit=page.limit, offset=page.offset
    )
    data = page.of(total, "conversations", [service.conversation_view(c) for c in rows])
    return ok(data, "Conversations retrieved successfully")


@router.get(
    "/{conversation_id}",
    summary="A conversation with its timeline (oldest first, paginated)",
    **answers(
        ConversationDetail,
        "Conversation retrieved successfully",
        {**CONVERSATION, "timeline": {"total": 1, "limit": 50, "offset": 0, "messages": [TIMELINE_ENTRY]}},
        responses(400, *AUTHENTICATED, 404),
    ),
)
async def get_conversation(
    conversation_id: str, session: SessionDep, tenant: TenantDep, page: PageDep
) -> Response:
    raise_if(page.errors)
    conversation = await service.get_conversation(session, tenant.project_id, conversation_id)
    total, entries = await service.timeline(
        session, tenant.project_id, conversation, limit=page.limit, offset=page.offset
    )
    timeline = page.of(total, "messages", [service.timeline_entry_view(e) for e in entries])
    return ok(
        {**service.conversation_view(conversation), "timeline": timeline},
        "Conversation retrieved successfully",
    )


@router.patch(
    "/{conversation_id}",
    summary="Change a conversation's status",
    **answers(
        ConversationModel,
        "Conversation updated successfully",
        {**CONVERSATION, "status": "resolved"},
        responses(*BODY, *AUTHENTICATED, 404),
    ),
    openapi_extra=request_body(ConversationUpdate, {"status": "resolved"}),
)
async def update_conversation(
    conversation_id: str, request: Request, session: SessionDep, tenant: TenantDep
) -> Response:
    body = await read_json_object(request)
    unknown = set(body) - {"status"}
    if unknown or "status" not in body:
        raise invalid({name: "unknown field" for name in sorted(unknown)} or {"status": "is required"})
    conversation = await service.set_status(session, tenant.project_id, conversation_id, body["status"])
    await session.commit()
    return ok(service.conversation_view(conversation), "Conversation updated successfully")


@router.post(
    "/{conversation_id}/messages",
    summary="Reply to the customer (text, or any message body)",
    status_code=201,
    response_model=Envelope[MessageSent],
    responses={
        **answer(201, SENT_EXAMPLE),
        **responses(
            *BODY,
            *AUTHENTICATED,
            404,
            *IDEMPOTENT,
            502,
            r409="The 24-hour window is closed (send a template), the channel is disconnected, or the "
            "Idempotency-Key is in use",
        ),
    },
    openapi_extra=operation(
        request_body(
            Reply,
            examples={
                "text": {"text": "Harganya Rp 150.000, kak."},
                "template": {
                    "type": "template",
                    "template": {"name": "order_update", "language": {"code": "id"}},
                },
            },
        ),
        idempotency(),
    ),
)
async def reply(conversation_id: str, call: CallDep) -> Response:
    async def execute() -> Response:
        body = await read_json_object(call.request)
        if "type" not in body and isinstance(body.get("text"), str):
            if len(body["text"]) > MAX_TEXT:
                raise invalid({"text": f"at most {MAX_TEXT} characters"})
            body = {"type": "text", "text": {"body": body["text"]}}
        answer = await service.reply(call.ctx, call.session, call.tenant, conversation_id, body, author="api")
        return ok(answer, "Message sent successfully", 201)

    return await call.once(execute)


contacts_router = APIRouter(prefix="/v1/contacts", tags=["conversations"])


@contacts_router.get(
    "",
    summary="Contacts synced from the WhatsApp Business app (coexistence)",
    **listed(
        ContactPage,
        "Contacts retrieved successfully",
        "contacts",
        {
            "wa_id": "62812345678",
            "user_id": None,
            "username": None,
            "full_name": "Budi Santoso",
            "first_name": "Budi",
            "channel_id": "chan_5b1e2d3c4a5f6e7d8c9b0a1f",
            "updated_at": "2026-11-29T10:00:00Z",
        },
    ),
)
async def list_contacts(
    session: SessionDep,
    tenant: TenantDep,
    page: PageDep,
    channel_id: str | None = Query(None, description="Only contacts of this channel"),
) -> Response:
    raise_if(page.errors)
    total, contacts = await service.list_contacts(
        session, tenant.project_id, channel_id=channel_id, limit=page.limit, offset=page.offset
    )
    data = page.of(total, "contacts", [service.contact_view(c) for c in contacts])
    return ok(data, "Contacts retrieved successfully")
