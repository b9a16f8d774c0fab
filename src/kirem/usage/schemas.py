"""Published shapes of ``/v1/usage`` and ``/v1/manage/usage`` (built by :mod:`kirem.usage.report`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class MessageCounts(BaseModel):
    outbound: int
    outbound_by_type: dict[str, int]
    by_category: dict[str, int] = Field(description="Meta's pricing categories of outbound messages")
    inbound: int


class WebhookCounts(BaseModel):
    deliveries: int
    attempts: int = Field(description="Every HTTP request to a target: first tries, retries and replays")


class ChargeLine(BaseModel):
    item: str
    quantity: int
    unit_price: float
    amount: float


class Charges(BaseModel):
    currency: str
    lines: list[ChargeLine]
    amount: float


class ProjectUsage(BaseModel):
    project_id: str
    messages: MessageCounts
    webhooks: WebhookCounts
    charges: Charges


class ApiProjectUsage(ProjectUsage):
    month: str = Field(description="YYYY-MM (UTC)")
    plan: str = Field(description="The account's plan now")


class AccountProjectUsage(ProjectUsage):
    """One project's line of the account's month (the month is the account's)."""

    name: str


class Bill(BaseModel):
    currency: str
    plan: str
    plan_fee: float
    usage_billed: bool
    usage_amount: float
    total: float


class AccountUsage(BaseModel):
    account_id: str
    month: str
    projects: list[AccountProjectUsage]
    bill: Bill


USAGE_EXAMPLE: dict[str, Any] = {
    "status": 200,
    "message": "Usage retrieved successfully",
    "data": {
        "project_id": "prj_4d5e6f7a8b9c0d1e2f3a4b5c",
        "month": "2026-11",
        "plan": "growth",
        "messages": {
            "outbound": 2,
            "outbound_by_type": {"template": 1, "text": 1},
            "by_category": {"marketing": 1, "utility": 0, "authentication": 0, "service": 1},
            "inbound": 2,
        },
        "webhooks": {"deliveries": 2, "attempts": 5},
        "charges": {
            "currency": "IDR",
            "lines": [
                {"item": "marketing", "quantity": 1, "unit_price": 650, "amount": 650},
                {"item": "delivery", "quantity": 2, "unit_price": 1, "amount": 2},
            ],
            "amount": 652,
        },
    },
}
