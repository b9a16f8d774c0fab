"""Published shapes of ``/webhooks/meta``: Meta's webhook envelope, kept open to every field."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class MetaWebhook(BaseModel):
    """Meta's ``whatsapp_business_account`` webhook; stored raw, so any field Meta adds is kept."""

    model_config = ConfigDict(extra="allow")

    object: str = Field(description="whatsapp_business_account")
    entry: list[dict[str, Any]] = Field(description="Per WABA: ``id`` and ``changes`` (``field``, ``value``)")


class Received(BaseModel):
    received: bool


META_WEBHOOK_EXAMPLE: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [
        {
            "id": "102290129340398",
            "changes": [
                {
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {
                            "display_phone_number": "15550783881",
                            "phone_number_id": "106540352242922",
                        },
                        "contacts": [{"profile": {"name": "Budi"}, "wa_id": "6282360419136"}],
                        "messages": [
                            {
                                "from": "6282360419136",
                                "id": "wamid.HBgNNjI4MjM2MDQxOTEzNhUCABIYFjNFQjBDMEY4RTk3QzQ2QzI2RjM4AA==",
                                "timestamp": "1750263773",
                                "type": "text",
                                "text": {"body": "Halo"},
                            }
                        ],
                    },
                }
            ],
        }
    ],
}
