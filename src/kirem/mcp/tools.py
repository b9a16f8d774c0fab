"""The MCP tools: each reads the caller, opens its own database session and answers in text.

Descriptions are in Indonesian, as Kirem's users read them (docs/mcp.md); arguments are checked here
first so a mistake reads as an instruction to the agent, not as a validation dump.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from mcp.types import CallToolResult
from pydantic import Field

from kirem.analytics.messages import check_analytics
from kirem.conversations import service as conversations
from kirem.conversations.models import CONVERSATION_STATUSES
from kirem.kit.errors import DomainError
from kirem.mcp.analytics import message_summary, period
from kirem.mcp.caller import current_caller
from kirem.mcp.results import ToolInputError, api_error_text, guarded, json_result, text_result
from kirem.messaging import service as messaging
from kirem.messaging import templates

MAX_TEXT = 4096
LIST_LIMIT = 50
TIMELINE_LIMIT = 100
EXAMPLE_ID = "8a3d12d4-1a9b-4bfa-a7b3-c123456789ab"

SessionId = Annotated[str, Field(description="ID dari chat session/percakapan.")]
OptionalSessionId = Annotated[
    str | None,
    Field(description="ID (UUID) chat session/percakapan tujuan. Isi ini atau 'to', tidak keduanya."),
]
Force = Annotated[
    bool,
    Field(
        description=(
            "Kirim walaupun pemilik bisnis sedang membalas dari aplikasi WhatsApp Business "
            "(human handover). Default false."
        )
    ),
]


def session_uuid(value: str, name: str = "session_id") -> str:
    try:
        return str(uuid.UUID(str(value).strip()))
    except ValueError:
        raise ToolInputError(
            f"{name} must be a conversation UUID such as {EXAMPLE_ID}, got {value!r}. "
            "Call list_conversations to find the id of the chat session."
        ) from None


def conversation_status(value: str, name: str = "status") -> str:
    status = value.strip().lower()
    if status not in CONVERSATION_STATUSES:
        raise ToolInputError(f"{name} must be one of {', '.join(CONVERSATION_STATUSES)}; got {value!r}")
    return status


def message_text(text: str) -> str:
    if not text.strip():
        raise ToolInputError("text must not be empty")
    if len(text) > MAX_TEXT:
        raise ToolInputError(
            f"text is {len(text)} characters long; WhatsApp allows at most {MAX_TEXT}. "
            "Shorten it or send it as several messages."
        )
    return text


@contextmanager
def agent_hints(session_id: str) -> Iterator[None]:
    """The conversation service speaks REST; point an agent at the tools that get it further."""
    try:
        yield
    except DomainError as exc:
        details = exc.errors if isinstance(exc.errors, dict) else {}
        if exc.status == 404 and exc.message == "Conversation not found":
            raise ToolInputError(
                f"Conversation not found: there is no chat session {session_id} in this project. "
                "Call list_conversations to see the sessions and their ids."
            ) from None
        if exc.status == 409 and details.get("code") == 131047:
            raise ToolInputError(
                f"{api_error_text(exc)} With MCP: call list_templates, then send_template with this "
                "session_id."
            ) from None
        raise


def sent_text(answer: dict[str, Any]) -> str:
    messages = answer.get("messages") or [{}]
    return f"Pesan berhasil dikirim. Message ID: {messages[0].get('id')}"


async def reply_as_agent(conversation_id: str, body: dict[str, Any], force: bool) -> CallToolResult:
    """Send ``body`` to a conversation's customer as the agent, and say what was sent."""
    caller = current_caller()
    async with caller.ctx.db.session() as session:
        with agent_hints(conversation_id):
            answer = await conversations.reply(
                caller.ctx, session, caller.tenant, conversation_id, body, author="agent", force=force
            )
        await session.commit()
    return text_result(sent_text(answer))


# Conversations ---------------------------------------------------------------------------------


@guarded("send_message")
async def send_message(
    session_id: SessionId,
    text: Annotated[str, Field(description="Isi pesan teks yang ingin dikirim.")],
    force: Force = False,
) -> CallToolResult:
    """Kirim pesan WhatsApp ke session chat/percakapan tertentu."""
    conversation_id = session_uuid(session_id)
    return await reply_as_agent(
        conversation_id, {"type": "text", "text": {"body": message_text(text)}}, force
    )


@guarded("list_conversations")
async def list_conversations(
    status: Annotated[
        str | None,
        Field(
            description="Saring berdasarkan status percakapan (open, pending, resolved, on_hold). Opsional."
        ),
    ] = None,
) -> CallToolResult:
    """Dapatkan daftar percakapan (chat sessions) aktif dalam proyek."""
    wanted = conversation_status(status) if status and status.strip() else None
    caller = current_caller()
    async with caller.ctx.db.session() as session:
        _, rows = await conversations.list_conversations(
            session, caller.tenant.project_id, status=wanted, limit=LIST_LIMIT, offset=0
        )
        return json_result([conversations.conversation_view(row) for row in rows])


@guarded("get_conversation")
async def get_conversation(session_id: SessionId) -> CallToolResult:
    """Dapatkan detail percakapan (chat session) beserta riwayat timeline pesannya."""
    conversation_id = session_uuid(session_id)
    caller = current_caller()
    project_id = caller.tenant.project_id
    async with caller.ctx.db.session() as session:
        with agent_hints(conversation_id):
            conversation = await conversations.get_conversation(session, project_id, conversation_id)
        total, entries = await conversations.latest_timeline(  # the latest messages matter most
            session, project_id, conversation, limit=TIMELINE_LIMIT
        )
        return json_result(
            {
                "session": conversations.conversation_view(conversation),
                "messages": [conversations.timeline_entry_view(entry) for entry in entries],
                "total_messages": total,
            }
        )


@guarded("update_conversation_status")
async def update_conversation_status(
    session_id: SessionId,
    status: Annotated[str, Field(description="Status baru: open, pending, resolved, atau on_hold.")],
) -> CallToolResult:
    """Ubah status percakapan (chat session): open, pending, resolved, atau on_hold."""
    conversation_id = session_uuid(session_id)
    wanted = conversation_status(status)
    caller = current_caller()
    async with caller.ctx.db.session() as session:
        with agent_hints(conversation_id):
            conversation = await conversations.set_status(
                session, caller.tenant.project_id, conversation_id, wanted
            )
        await session.commit()
        return text_result(
            f"Status percakapan {conversation.id} berhasil diubah menjadi {conversation.status}."
        )


# Templates -------------------------------------------------------------------------------------


@guarded("list_templates")
async def list_templates(
    status: Annotated[
        str | None,
        Field(
            description=(
                "Saring berdasarkan status templat (APPROVED, PENDING, REJECTED, PAUSED, …). Opsional."
            )
        ),
    ] = None,
) -> CallToolResult:
    """Dapatkan daftar templat pesan WhatsApp proyek beserta status, kategori, bahasa dan komponennya."""
    wanted = status.strip().upper() if status and status.strip() else None
    caller = current_caller()
    async with caller.ctx.db.session() as session:
        found = await templates.list_templates(
            caller.ctx, session, caller.tenant, status=wanted, channel_id=None
        )
        return json_result(found)


def template_body(name: str, language: str, parameters: list[str] | None) -> dict[str, Any]:
    if not name.strip():
        raise ToolInputError(
            "name must be the template's name, for example order_update (see list_templates)"
        )
    if not language.strip():
        raise ToolInputError("language must be the template's language code, for example id or en_US")
    template: dict[str, Any] = {"name": name.strip(), "language": {"code": language.strip()}}
    if parameters:
        values = [{"type": "text", "text": str(value)} for value in parameters]
        template["components"] = [{"type": "body", "parameters": values}]
    return {"type": "template", "template": template}


@guarded("send_template")
async def send_template(
    name: Annotated[str, Field(description="Nama templat yang sudah APPROVED (lihat list_templates).")],
    language: Annotated[str, Field(description="Kode bahasa templat, misalnya id atau en_US.")],
    session_id: OptionalSessionId = None,
    to: Annotated[
        str | None,
        Field(
            description="Nomor WhatsApp tujuan dalam format internasional (628…). Isi ini atau session_id."
        ),
    ] = None,
    recipient: Annotated[
        str | None,
        Field(
            description=(
                "User ID WhatsApp pelanggan (BSUID, misalnya US.13491208655302741918), untuk pelanggan "
                "tanpa nomor telepon. Isi ini, to, atau session_id."
            )
        ),
    ] = None,
    parameters: Annotated[
        list[str] | None,
        Field(description="Nilai variabel body {{1}}, {{2}}, … sesuai urutan. Opsional."),
    ] = None,
    force: Force = False,
) -> CallToolResult:
    """Kirim templat pesan WhatsApp yang sudah disetujui, ke sebuah percakapan (session_id), nomor (to)
    atau user ID (recipient).

    Templat boleh dikirim di luar jendela layanan 24 jam.
    """
    given = [bool(value and value.strip()) for value in (session_id, to, recipient)]
    if sum(given) != 1:
        raise ToolInputError(
            "Give exactly one of session_id (a conversation UUID), to (a phone number) or recipient "
            "(a business-scoped user id such as US.13491208655302741918)"
        )
    has_session, has_to, _ = given
    body = template_body(name, language, parameters)
    if has_session:
        return await reply_as_agent(session_uuid(str(session_id)), body, force)
    addressee = {"to": str(to).strip()} if has_to else {"recipient": str(recipient).strip()}
    message = {"messaging_product": "whatsapp", "recipient_type": "individual", **addressee, **body}
    caller = current_caller()
    async with caller.ctx.db.session() as session:
        answer, _ = await messaging.send_message(
            caller.ctx,
            session,
            caller.tenant,
            message,
            conversation_of=conversations.joined_conversation,
            author="agent",
        )
        await session.commit()
    return text_result(sent_text(answer))


# Analytics -------------------------------------------------------------------------------------


@guarded("view_analytics")
async def view_analytics(
    since: Annotated[
        str | None,
        Field(
            description=(
                "Awal periode: tanggal ISO 8601 (2026-06-01), detik Unix, atau relatif (7d, 24h). "
                "Default 7 hari lalu."
            )
        ),
    ] = None,
    until: Annotated[
        str | None,
        Field(description="Akhir periode, format sama seperti since. Default sekarang."),
    ] = None,
) -> CallToolResult:
    """Lihat statistik pesan proyek dalam suatu periode.

    Jumlah pesan keluar terkirim, diterima, dibaca dan gagal, pesan masuk, serta rincian per hari (UTC).
    """
    caller = current_caller()
    check_analytics(caller.tenant)
    start, end = period(since, until)
    async with caller.ctx.db.session() as session:
        return json_result(await message_summary(session, caller.tenant.project_id, start, end))


TOOLS = (
    send_message,
    list_conversations,
    get_conversation,
    list_templates,
    view_analytics,
    send_template,
    update_conversation_status,
)
