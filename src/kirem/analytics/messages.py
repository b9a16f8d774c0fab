"""The message log as the analytics API shows it: filtered, newest first, paginated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.conversations.models import Conversation
from kirem.customers import identifier
from kirem.db.scope import for_project
from kirem.kit.paging import in_window, newest_listing
from kirem.kit.params import Window
from kirem.kit.views import view_of
from kirem.messaging.models import MessageLog
from kirem.messaging.statuses import RANK
from kirem.tenancy.limits import plan_error
from kirem.tenancy.service import Tenant

DIRECTIONS = ("inbound", "outbound")
STATUSES = (*RANK, "received")
LOG_FIELDS = (
    "id message_id channel_id recipient recipient_user_id sender direction type status error_code"
    " error_message created_at updated_at"
)


def log_view(log: MessageLog) -> dict[str, Any]:
    return view_of(log, LOG_FIELDS)


def _to_recipient(project_id: str, value: str) -> Any:
    """Messages to this customer, named by phone number or BSUID: logged to that address, or sent
    into the conversation of the customer who holds it (the same person under their other identifier)."""
    ids = identifier(value)
    address = ids.address or value
    column = Conversation.customer_user_id if ids.user_id else Conversation.customer_wa_id
    theirs = select(Conversation.id).where(Conversation.project_id == project_id, column == address)
    logged = MessageLog.recipient_user_id if ids.user_id else MessageLog.recipient
    return or_(
        logged == address,
        and_(MessageLog.direction == "outbound", MessageLog.conversation_id.in_(theirs)),
    )


def _filtered(project_id: str, window: Window, filters: dict[str, str | None]) -> Select[MessageLog]:
    stmt = for_project(MessageLog, project_id)
    for column in ("status", "direction", "type"):
        value = filters.get(column)
        if value:
            stmt = stmt.where(getattr(MessageLog, column) == value)
    if filters.get("recipient"):
        stmt = stmt.where(_to_recipient(project_id, str(filters["recipient"])))
    return in_window(stmt, MessageLog.created_at, window)


def check_analytics(tenant: Tenant) -> Tenant:
    """``tenant`` when its plan includes the analytics API, else the plan's refusal."""
    if not tenant.limits.analytics_api:
        raise plan_error("analytics_api", f"The analytics API is not part of the {tenant.account.plan} plan.")
    return tenant


async def query_message_logs(
    session: AsyncSession, project_id: str, window: Window, filters: dict[str, str | None]
) -> dict[str, Any]:
    stmt = _filtered(project_id, window, filters)
    newest = (MessageLog.created_at, MessageLog.id)
    return await newest_listing(session, stmt, newest, window, "logs", log_view)


async def iter_message_logs(
    session: AsyncSession, project_id: str, window: Window, filters: dict[str, str | None], batch: int = 500
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every matching log, newest first, in batches read by keyset (an export of any size)."""
    stmt = _filtered(project_id, window, filters).order_by(MessageLog.created_at.desc(), MessageLog.id.desc())
    after: tuple[datetime, str] | None = None
    while True:
        page = stmt
        if after is not None:
            page = page.where(tuple_(MessageLog.created_at, MessageLog.id) < after)
        rows = list((await session.execute(page.limit(batch))).scalars())
        if not rows:
            return
        yield [log_view(log) for log in rows]
        after = (rows[-1].created_at, rows[-1].id)
