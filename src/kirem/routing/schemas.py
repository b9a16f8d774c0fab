"""Published shapes of ``/v1/webhooks`` targets, rules and the rule tester (the routes validate
with :mod:`kirem.routing.targets`, :mod:`kirem.routing.rules` and :mod:`kirem.routing.conditions`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from kirem.delivery.schedule import MAX_SCHEDULE_LENGTH, MAX_SCHEDULE_STEP
from kirem.routing.conditions import ITEM_MAX_LENGTH, LIST_MAX_ITEMS, REGEX_MAX_LENGTH
from kirem.routing.rules import NAME_MAX, TARGET_IDS_MAX
from kirem.routing.targets import (
    DESCRIPTION_MAX,
    HEADER_MASK,
    HEADERS_MAX,
    MAX_ATTEMPTS_RANGE,
    TIMEOUT_RANGE,
)
from kirem.routing.urls import MAX_URL_LENGTH

EventType = Literal[
    "messages.received",
    "messages.status",
    "messages.echo",
    "history.sync",
    "contacts.sync",
    "templates.status",
    "account.update",
    "targets.disabled",
    "sla.breached",
    "sla.recovered",
    "channels.connected",
]

Strict = ConfigDict(extra="forbid")

_HEADERS = (
    f"Custom headers sent with each delivery (at most {HEADERS_MAX}); stored encrypted, answered as "
    f'"{HEADER_MASK}". In a PATCH the set is replaced; "{HEADER_MASK}" keeps a stored value'
)


class TargetFields(BaseModel):
    model_config = Strict

    description: str | None = Field(None, max_length=DESCRIPTION_MAX)
    payload_format: Literal["kirem", "meta"] | None = Field(None, description="`kirem` (default) or `meta`")
    events: list[EventType] | None = Field(None, description="Event types it receives; empty or absent = all")
    enabled: bool | None = Field(None, description="`true` re-enables a disabled target")
    headers: dict[str, str] | None = Field(None, description=_HEADERS, max_length=HEADERS_MAX)
    timeout_seconds: float | None = Field(
        None, ge=TIMEOUT_RANGE[0], le=TIMEOUT_RANGE[1], description="Default 10"
    )
    max_attempts: int | None = Field(
        None, ge=MAX_ATTEMPTS_RANGE[0], le=MAX_ATTEMPTS_RANGE[1], description="Default 8"
    )
    retry_schedule: list[float] | None = Field(
        None,
        min_length=1,
        max_length=MAX_SCHEDULE_LENGTH,
        description=f"Delays in seconds (each 0–{MAX_SCHEDULE_STEP:g}), the first before the first attempt",
    )


class TargetCreate(TargetFields):
    """A new webhook target; unknown fields are refused, ``null`` means the default."""

    url: str = Field(max_length=MAX_URL_LENGTH, description="http or https (public addresses in production)")


class TargetUpdate(TargetFields):
    """The fields to change; unknown fields are refused, ``null`` resets a field to its default."""

    url: str | None = Field(None, max_length=MAX_URL_LENGTH)


class Target(BaseModel):
    id: str
    url: str
    description: str | None
    payload_format: Literal["kirem", "meta"]
    events: list[str]
    enabled: bool
    headers: dict[str, str] = Field(description=f'Header names, each with the value "{HEADER_MASK}"')
    timeout_seconds: float
    max_attempts: int
    retry_schedule: list[float] | None
    disabled_reason: str | None
    disabled_at: str | None
    failing_since: str | None
    created_at: str | None
    updated_at: str | None


class TargetTest(BaseModel):
    """What the consumer answered to a signed ``webhooks.test`` event (nothing is stored)."""

    target_id: str
    url: str
    event: Literal["webhooks.test"]
    event_id: str
    delivery_id: str
    success: bool = Field(description="A 2xx within the target's timeout")
    status_code: int | None = Field(description="`null` when the consumer did not answer")
    latency_ms: int | None
    error: str | None
    response_body: str = Field(description="The first 1,000 characters of the consumer's answer")
    response_truncated: bool


Item = Annotated[str, Field(max_length=ITEM_MAX_LENGTH)]


class Conditions(BaseModel):
    """Conditions are AND together, lists OR within; an absent condition matches everything."""

    model_config = Strict

    event_types: list[EventType] | None = Field(None, min_length=1, max_length=LIST_MAX_ITEMS)
    message_types: list[Item] | None = Field(
        None,
        min_length=1,
        max_length=LIST_MAX_ITEMS,
        description="`text`, `image`, `interactive`, `button`, `voice`, …",
    )
    senders: list[Item] | None = Field(
        None,
        min_length=1,
        max_length=LIST_MAX_ITEMS,
        description="Numbers or BSUIDs, exact or a prefix ending in `*` (`628*`, `US.*`)",
    )
    keywords: list[Item] | None = Field(
        None, min_length=1, max_length=LIST_MAX_ITEMS, description="Case-insensitive, any of them"
    )
    regex: str | None = Field(None, min_length=1, max_length=REGEX_MAX_LENGTH, description="One RE2 pattern")
    channel_ids: list[Item] | None = Field(None, min_length=1, max_length=LIST_MAX_ITEMS)


class RuleFields(BaseModel):
    model_config = Strict

    enabled: bool | None = None
    conditions: Conditions | None = None
    target_ids: list[str] | None = Field(None, min_length=1, max_length=TARGET_IDS_MAX)


class RuleCreate(RuleFields):
    """A new routing rule; unknown fields are refused."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    target_ids: list[str] = Field(
        min_length=1, max_length=TARGET_IDS_MAX, description="This project's targets"
    )


class RuleUpdate(RuleFields):
    """The fields to change; unknown fields are refused."""

    name: str | None = Field(None, min_length=1, max_length=NAME_MAX)


class Rule(BaseModel):
    id: str
    name: str
    enabled: bool
    disabled_reason: str | None
    conditions: dict[str, Any]
    target_ids: list[str]
    created_at: str | None
    updated_at: str | None


class ShortEvent(BaseModel):
    """The short form of a sample event: every key optional."""

    model_config = Strict

    type: EventType | None = Field(None, description="Default `messages.received`")
    message_type: str | None = Field(None, description="Default `text` when there is text")
    from_: str | None = Field(None, alias="from", description="The customer's number or BSUID")
    user_id: str | None = Field(None, description="The customer's BSUID")
    text: str | list[str] | None = None
    channel_id: str | None = Field(None, description="A channel id or its phone number id")
    phone_number_id: str | None = None


class KiremEvent(BaseModel):
    """A sample event as a target receives it."""

    model_config = ConfigDict(extra="allow")

    event: EventType
    data: dict[str, Any]


class RuleTestWrapped(BaseModel):
    model_config = Strict

    event: KiremEvent | ShortEvent


class RuleTest(RootModel[ShortEvent | KiremEvent | RuleTestWrapped]):
    """A sample event, in the short form or as a target receives it, or wrapped in ``{"event": …}``."""


class TargetDecision(BaseModel):
    target_id: str
    url: str
    selected: bool
    reason: str
    rule_ids: list[str]


class RuleTestResult(BaseModel):
    targets: list[TargetDecision]
    facts: dict[str, Any] = Field(
        description="What the rules looked at: type, message_type, sender, texts, …"
    )


class SecretRotated(BaseModel):
    webhook_secret: str = Field(description="The new signing secret, shown only here")
    previous_secret_expires_at: str | None = Field(description="Until then the old secret signs too")


TARGET_EXAMPLE = {
    "url": "https://example.com/hooks/whatsapp",
    "description": "CRM",
    "events": ["messages.received", "messages.status"],
    "headers": {"Authorization": "Bearer crm-token"},
}
RULE_EXAMPLE = {
    "name": "Pricing questions to sales",
    "conditions": {"event_types": ["messages.received"], "keywords": ["harga", "price"]},
    "target_ids": ["tgt_3f9a0c1e5b7d9f2a4c6e8b0d"],
}
RULE_TEST_EXAMPLE = {
    "type": "messages.received",
    "message_type": "text",
    "from": "62812345678",
    "text": "Berapa harganya?",
}
