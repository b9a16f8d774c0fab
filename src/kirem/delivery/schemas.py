"""Published shapes of deliveries, events and replay (built by :mod:`kirem.delivery.deliveries`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kirem.api.schemas import BOOLEAN, TIMESTAMP, replace_schema

DeliveryStatus = Literal["pending", "succeeded", "failed", "skipped"]


class Delivery(BaseModel):
    """One event for one target."""

    id: str
    event_id: str
    event: str
    target_id: str
    url: str | None = Field(description="The target's URL (`null` once the target is deleted)")
    status: DeliveryStatus
    attempts: int = Field(description="Attempts made so far")
    next_attempt_at: str | None = Field(description="When a pending delivery is tried next")
    last_status_code: int | None
    last_error: str | None
    created_at: str | None
    completed_at: str | None


class Attempt(BaseModel):
    """One HTTP request to a target."""

    id: str
    delivery_id: str | None
    event_id: str
    event: str
    target_id: str | None
    url: str
    status_code: int | None = Field(description="`null` when the consumer did not answer")
    duration_ms: int | None
    is_success: bool
    attempt: int = Field(description="1 for the first try")
    error: str | None
    response_body: str | None = Field(description="The first 20 KB of the consumer's answer")
    created_at: str | None


class DeliveryDetail(Delivery):
    attempt_log: list[Attempt] = Field(description="Every attempt, oldest first")


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class DeliveryPage(Page):
    deliveries: list[Delivery]


class AttemptPage(Page):
    logs: list[Attempt]


class Event(BaseModel):
    id: str
    event: str
    channel_id: str | None
    created_at: str | None
    error: str | None = Field(description="`null`, or why the event could not be applied")
    data: dict[str, Any] | list[Any] | None


class EventDetail(Event):
    deliveries: list[Delivery]


class EventPage(Page):
    events: list[Event]


class Queued(BaseModel):
    queued: int = Field(description="Deliveries queued again")


class BulkReplay(BaseModel):
    """Which deliveries to send again (also accepted in the query); unknown filters are refused."""

    model_config = ConfigDict(extra="forbid")

    status: DeliveryStatus | None = None
    is_success: bool | str | None = Field(
        None,
        description="`false`: every delivery that failed at least once",
        json_schema_extra=replace_schema({"anyOf": [{"type": "boolean"}, BOOLEAN, {"type": "null"}]}),
    )
    target_id: str | None = None
    event: str | None = None
    since: str | int | None = Field(
        None,
        description="Within the plan's retention",
        json_schema_extra=replace_schema({"anyOf": [*TIMESTAMP["anyOf"], {"type": "null"}]}),
    )
    until: str | int | None = Field(
        None, json_schema_extra=replace_schema({"anyOf": [*TIMESTAMP["anyOf"], {"type": "null"}]})
    )
