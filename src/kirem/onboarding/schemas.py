"""Published shapes of Customer Setup Links (``/v1/setup-links``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kirem.api.route_docs import WITHOUT_PARENT_EXAMPLES, Timestamp, with_examples
from kirem.onboarding.service import DEFAULT_EXPIRY, MAX_EXPIRY_SECONDS, MIN_EXPIRY_SECONDS


class SetupLinkView(BaseModel):
    model_config = with_examples(
        {
            "id": "lnk_5e6f7a8b9c0d1e2f3a4b5c6d",
            "client_name": "Toko Bunga Melati",
            "redirect_url": "https://agency.example/onboarded?client=42",
            "coexistence": False,
            "mode": "sandbox",
            "status": "pending",
            "failure_reason": None,
            "expires_at": "2026-11-09T08:00:00Z",
            "completed_at": None,
            "project_id": None,
            "channel_id": None,
            "registration_pin": "482913",
            "created_at": "2026-11-02T08:00:00Z",
        }
    )

    id: str
    client_name: str
    redirect_url: str
    coexistence: bool
    mode: str = Field(description="sandbox or live: whose Embedded Signup the page runs")
    status: Literal["pending", "processing", "completed", "failed", "expired"]
    failure_reason: str | None = None
    expires_at: Timestamp = None
    completed_at: Timestamp = None
    project_id: str | None = Field(None, description="The client's project, once connected")
    channel_id: str | None = Field(None, description="The client's channel, once connected")
    registration_pin: str | None = Field(
        None, description="The PIN the number is registered with (not coexistence)"
    )
    created_at: Timestamp = None


class NewSetupLinkView(SetupLinkView):
    model_config = WITHOUT_PARENT_EXAMPLES

    url: str = Field(description="The page to send the client: shown only in this answer")


class SetupLinkBody(BaseModel):
    client_name: str = Field(min_length=1, max_length=200)
    redirect_url: str = Field(description="Where the client's browser goes after (https in production)")
    expires_in_seconds: int = Field(
        int(DEFAULT_EXPIRY.total_seconds()), ge=MIN_EXPIRY_SECONDS, le=MAX_EXPIRY_SECONDS
    )
    coexistence: bool = Field(False, description="Connect a number that stays in the WhatsApp Business app")
    sandbox: bool | None = Field(None, description="The sandbox's signup, not Meta's")
    pin: str | None = Field(None, pattern=r"^[0-9]{6}$", description="The number's two-step verification PIN")
