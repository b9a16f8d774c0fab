"""Published shapes of ``/v1/analytics`` (built by :mod:`kirem.analytics.messages` and
:func:`kirem.delivery.deliveries.attempt_logs`)."""

from __future__ import annotations

from pydantic import BaseModel

from kirem.delivery.schemas import Page


class MessageLog(BaseModel):
    id: str
    message_id: str | None
    channel_id: str | None
    recipient: str | None
    recipient_user_id: str | None
    sender: str | None
    direction: str
    type: str | None
    status: str
    error_code: int | None
    error_message: str | None
    created_at: str | None
    updated_at: str | None


class MessageLogPage(Page):
    logs: list[MessageLog]


MESSAGE_LOGS_EXAMPLE = {
    "status": 200,
    "message": "Message logs retrieved successfully",
    "data": {
        "total": 1,
        "limit": 10,
        "offset": 0,
        "logs": [
            {
                "id": "msg-12345",
                "message_id": "wamid.HBgLNjI4MTIzND...",
                "channel_id": "chan_5b1e2d3c4a5f6e7d8c9b0a1f",
                "recipient": "62812345678",
                "recipient_user_id": None,
                "sender": None,
                "direction": "outbound",
                "type": "template",
                "status": "failed",
                "error_code": 131026,
                "error_message": "(#131026) Message Undeliverable",
                "created_at": "2026-06-26T00:20:00Z",
                "updated_at": "2026-06-26T00:20:03Z",
            }
        ],
    },
}
