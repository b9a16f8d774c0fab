"""Published shapes of the sandbox (mounted at ``/sandbox``): the customer simulator's bodies and
answers; its Graph paths take and answer Meta's shapes (:mod:`kirem.messaging.graph_schemas`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.schemas import json_only
from kirem.messaging.graph_schemas import graph_responses


class SimulatedInbound(BaseModel):
    """A customer writes to a sandbox number: ``message`` is Meta's inbound message object."""

    model_config = ConfigDict(extra="allow")

    phone_number_id: str = Field(description="The sandbox number written to")
    from_: str | None = Field(None, alias="from", description="The customer's number (or user_id)")
    user_id: str | None = Field(None, description="The customer's business-scoped user id (BSUID)")
    username: str | None = None
    profile_name: str | None = None
    context: dict[str, Any] | None = Field(None, description="``id`` of the message replied to")
    message: dict[str, Any] = Field(description='``{"type": "text", "text": {"body": "Halo"}}``…')


class SimulatedEcho(BaseModel):
    """The owner writes from the WhatsApp Business app (coexistence)."""

    phone_number_id: str
    to: str = Field(description="The customer's number")
    message: dict[str, Any] = Field(description="Meta's message object, with its type")


class SimulatedHistory(BaseModel):
    """One chunk of the phone app's chat history (coexistence)."""

    phone_number_id: str
    phase: int = 0
    chunk_order: int = Field(1, ge=1)
    progress: int = Field(100, ge=0, le=100)
    threads: list[dict[str, Any]] = Field(description="``id`` (the customer's number) and ``messages``")


class SimulatedContacts(BaseModel):
    """Contacts added or removed in the phone app (coexistence)."""

    phone_number_id: str
    contacts: list[dict[str, Any]] = Field(
        description="``phone_number``, ``action`` (add or remove), ``full_name`` or ``first_name`` to add"
    )


class Wamid(BaseModel):
    wamid: str = Field(description="The simulated message's id")


class HistoryChunk(BaseModel):
    chunk_order: int
    messages: int
    wamids: list[str]


class ContactsSynced(BaseModel):
    contacts: int = Field(description="How many contact changes were posted")


INBOUND_EXAMPLE = {
    "phone_number_id": "106540352242922",
    "from": "6282360419136",
    "profile_name": "Budi",
    "message": {"type": "text", "text": {"body": "Halo"}},
}


class AccessToken(BaseModel):
    access_token: str = Field(description="The business token for the signed-up number")
    token_type: str


class SubscribedApps(BaseModel):
    data: list[dict[str, Any]] = Field(description="The subscribed app, if any")


META_REFUSALS = json_only(graph_responses(400, 401, 404))
"""The sandbox's refusals, in Meta's error body, on its routes that answer a file, a page or a redirect."""
BINARY = {"schema": {"type": "string", "format": "binary"}}
FILE_ANSWER = {
    200: {"description": "The file, with its MIME type", "content": {"application/octet-stream": BINARY}},
    **META_REFUSALS,
}
POPUP_ANSWER = {
    200: {"description": "The popup's page", "content": {"text/html": {"schema": {"type": "string"}}}},
    **META_REFUSALS,
}
BACK_TO_PAGE = {
    303: {"description": "Back to the setup-link page with the code and the new ids"},
    **META_REFUSALS,
}
