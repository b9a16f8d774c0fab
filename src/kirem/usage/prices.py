"""The operator's per-unit price table (``KIREM_USAGE_PRICES``) and the estimated bill."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kirem.config import DEFAULT_PRICES, parse_prices
from kirem.tenancy.plans import PLAN_FEES

__all__ = ["DEFAULT_PRICES", "Line", "bill", "charge_lines", "charges", "parse_prices"]


@dataclass(frozen=True)
class Line:
    item: str
    quantity: int
    unit_price: int

    @property
    def amount(self) -> int:
        return self.quantity * self.unit_price

    def view(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": self.amount,
        }


def charge_lines(totals: dict[str, Any], prices: dict[str, int]) -> list[Line]:
    """The priced lines of one usage summary (see :func:`kirem.usage.report.summary`)."""
    lines = [
        Line(name, n, prices.get(name, 0)) for name, n in sorted(totals["messages"]["by_category"].items())
    ]
    lines.append(Line("inbound", totals["messages"]["inbound"], prices["inbound"]))
    lines.append(Line("delivery", totals["webhooks"]["deliveries"], prices["delivery"]))
    lines.append(Line("attempt", totals["webhooks"]["attempts"], prices["attempt"]))
    return lines


def charges(totals: dict[str, Any], prices: dict[str, int]) -> dict[str, Any]:
    lines = charge_lines(totals, prices)
    return {
        "currency": "IDR",
        "lines": [line.view() for line in lines],
        "amount": sum(x.amount for x in lines),
    }


def bill(plan: str, usage_amount: int) -> dict[str, Any]:
    """The account's estimate: the plan's fee, plus usage where the plan bills it."""
    fee = PLAN_FEES[plan]
    billed = usage_amount if fee.bills_usage else 0
    return {
        "currency": "IDR",
        "plan": plan,
        "plan_fee": fee.monthly_idr,
        "usage_billed": fee.bills_usage,
        "usage_amount": billed,
        "total": fee.monthly_idr + billed,
    }
