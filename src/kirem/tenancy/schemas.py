"""Published shapes of the management API (account token) and the operator API (operator token).

Routes validate bodies with their own rules (the exact field messages); these models describe what
those rules accept and what the views in :mod:`kirem.tenancy.views` answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.route_docs import WITHOUT_PARENT_EXAMPLES, Timestamp, with_examples

PlanName = Literal["developer", "growth", "scale", "enterprise"]
"""The names of :data:`kirem.tenancy.plans.PLANS` (a unit test keeps them equal)."""


class PlanLimitsView(BaseModel):
    """A plan's limits (``null``: unlimited) and features."""

    projects: int | None = None
    channels: int | None = None
    outbound_per_day: int | None = None
    retention_days: int
    webhook_targets: int | None = None
    routing_rules: int | None = None
    analytics_api: bool
    ip_allowlist: bool
    customer_setup_links: bool
    dedicated_outbound_ip: bool
    dedicated_mcp: bool
    sla_thresholds: bool


class AccountView(BaseModel):
    model_config = with_examples(
        {
            "id": "acc_1f2e3d4c5b6a79880a1b2c3d",
            "name": "Agensi Nusantara",
            "plan": "growth",
            "limit_overrides": {},
            "created_at": "2026-11-02T08:15:00Z",
        }
    )

    id: str
    name: str
    plan: str
    limit_overrides: dict[str, Any] = Field(description="Limits that replace the plan's for this account")
    created_at: Timestamp = None


class OwnAccountView(AccountView):
    model_config = WITHOUT_PARENT_EXAMPLES

    limits: PlanLimitsView = Field(description="The plan's limits with the account's overrides applied")


class AccountWithToken(AccountView):
    model_config = WITHOUT_PARENT_EXAMPLES

    account_token: str = Field(description="The account token, shown only in this answer")


class AccountUpdated(AccountView):
    model_config = WITHOUT_PARENT_EXAMPLES

    changes: dict[str, Any] = Field(
        description="What the new limits disabled or re-enabled (projects, channels, targets, rules, egress)"
    )


class AccountToken(BaseModel):
    account_id: str
    account_token: str = Field(description="Shown only in this answer")


class EgressView(BaseModel):
    bind_address: str | None = Field(None, description="The source address deliveries leave from")
    proxy_url: str | None = Field(None, description="The HTTP(S) proxy, its password masked")
    active: bool = Field(description="Whether deliveries use these settings now")
    inactive_reason: str | None = None


class ProjectView(BaseModel):
    model_config = with_examples(
        {
            "id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
            "account_id": "acc_1f2e3d4c5b6a79880a1b2c3d",
            "name": "Toko Melati",
            "disabled_reason": None,
            "egress": {
                "bind_address": None,
                "proxy_url": None,
                "active": False,
                "inactive_reason": None,
            },
            "created_at": "2026-11-02T08:16:00Z",
        }
    )

    id: str
    account_id: str
    name: str
    disabled_reason: str | None = Field(None, description="Why the project is disabled (over a plan limit)")
    egress: EgressView
    created_at: Timestamp = None


class KeyView(BaseModel):
    model_config = with_examples(
        {
            "id": "key_9a8b7c6d5e4f3a2b1c0d9e8f",
            "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
            "name": "ci",
            "mode": "test",
            "scope": "api",
            "prefix": "kirem_test_3f9a",
            "created_at": "2026-11-02T08:17:00Z",
            "last_used_at": None,
            "revoked_at": None,
        }
    )

    id: str
    project_id: str
    name: str
    mode: Literal["live", "test"]
    scope: Literal["api", "mcp"]
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: Timestamp = None
    last_used_at: Timestamp = None
    revoked_at: Timestamp = None


class NewKeyView(KeyView):
    model_config = WITHOUT_PARENT_EXAMPLES

    key: str = Field(description="The secret key, shown only in this answer")


class ChannelView(BaseModel):
    model_config = with_examples(
        {
            "id": "chn_0a1b2c3d4e5f60718293a4b5",
            "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
            "kind": "sandbox",
            "name": "Sandbox",
            "phone_number_id": "106540352242922",
            "waba_id": "102290129340398",
            "display_phone_number": "+1 555 078 3881",
            "status": "active",
            "disabled_reason": None,
            "created_at": "2026-11-02T08:18:00Z",
        }
    )

    id: str
    project_id: str
    kind: Literal["live", "sandbox"]
    name: str | None = None
    phone_number_id: str
    waba_id: str
    display_phone_number: str | None = None
    status: str = Field(description="active or disabled")
    disabled_reason: str | None = None
    created_at: Timestamp = None


class LiveCheckView(BaseModel):
    """What Graph said about a live channel's number, WABA and app subscription."""

    model_config = ConfigDict(extra="allow")

    verified: bool
    verified_name: str | None = None
    waba_name: str | None = None
    app_subscribed: bool
    subscribed_now: bool
    hint: str | None = None


class ConnectedChannelView(ChannelView):
    model_config = WITHOUT_PARENT_EXAMPLES

    verification: LiveCheckView | None = Field(
        None, description="null for a sandbox channel or verify: false"
    )


class WebhookSecretView(BaseModel):
    webhook_secret: str


class RotatedSecretView(WebhookSecretView):
    previous_secret_expires_at: str | None = Field(None, description="Until when the old secret still signs")


class IpAllowlistView(BaseModel):
    cidrs: list[str]


# Request bodies ------------------------------------------------------------------------------


class NameBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class IpAllowlistBody(BaseModel):
    cidrs: list[str] = Field(description="IPv4/IPv6 networks or addresses; empty allows every address")


class EgressBody(BaseModel):
    """``null`` or absent turns a part off; no other field is taken."""

    model_config = ConfigDict(extra="forbid")

    bind_address: str | None = Field(None, description="A local IP address to send deliveries from")
    proxy_url: str | None = Field(None, description="An http:// or https:// proxy URL")


class KeyCreateBody(BaseModel):
    name: str = Field("default", min_length=1, max_length=200)
    mode: Literal["live", "test"] = Field("live", description="test keys work on sandbox channels only")
    scope: Literal["api", "mcp"] = Field("api", description="mcp: the dedicated MCP endpoint only")


class ChannelCreateBody(BaseModel):
    kind: Literal["live", "sandbox"] = "live"
    name: str | None = Field(None, max_length=200)
    phone_number_id: str | None = Field(None, description="Meta's numeric id (live: required)")
    waba_id: str | None = Field(None, description="Meta's numeric id (live: required)")
    access_token: str | None = Field(None, description="A system user token (live: required)")
    display_phone_number: str | None = None
    verify: bool = Field(True, description="Check the number, WABA and token with Graph first")
    subscribe_app: bool = Field(False, description="Subscribe the app to the WABA's webhooks")


class AccountCreateBody(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    plan: PlanName = "developer"


class AccountUpdateBody(BaseModel):
    plan: PlanName | None = None
    limit_overrides: dict[str, int | bool | None] | None = Field(
        None, description="Keys among the plan limits' names"
    )
