"""Usage counters on a real database: concurrent increments add up, months and projects stay apart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from kirem.api.responses import ApiError
from kirem.cli_support import context_for
from kirem.config import Settings
from kirem.db.engine import Database
from kirem.tenancy import service
from kirem.usage import meter
from kirem.usage.prices import DEFAULT_PRICES, bill, parse_prices
from kirem.usage.report import account_usage, parse_month, project_usage


async def test_concurrent_counts_from_many_sessions_add_up(database: Database, settings) -> None:
    ctx = context_for(settings)
    async with ctx.db.transaction() as session:
        account = await service.create_account(session, "busy", "scale")
        first = await service.create_project(session, ctx.sealer, account, "first")
        second = await service.create_project(session, ctx.sealer, account, "second")
    november = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    december = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)

    async def one(project_id: str, at: datetime) -> None:
        async with ctx.db.transaction() as session:
            await meter.count(session, project_id, {meter.ATTEMPTS: 1, meter.outbound("text"): 2}, at)

    await asyncio.gather(
        *(one(first.id, november) for _ in range(25)), one(second.id, november), one(first.id, december)
    )
    async with ctx.db.transaction() as session:  # rolled back: counts nothing
        await meter.count(session, first.id, {meter.DELIVERIES: 5}, november)
        await session.rollback()
    async with ctx.db.session() as session:
        totals = await project_usage(session, first.id, "2026-11", DEFAULT_PRICES)
        assert totals["webhooks"] == {"deliveries": 0, "attempts": 25}
        assert totals["messages"]["outbound_by_type"] == {"text": 50}
        december_totals = await project_usage(session, first.id, "2026-12", DEFAULT_PRICES)
        assert december_totals["webhooks"]["attempts"] == 1
        report = await account_usage(session, account, "2026-11", DEFAULT_PRICES)
    assert [p["webhooks"]["attempts"] for p in report["projects"]] == [25, 1]
    assert report["bill"]["plan_fee"] == 100_000 and report["bill"]["total"] == 100_000


def test_event_amounts_count_inbound_messages_and_sent_categories() -> None:
    assert meter.event_amounts("messages.received", {}) == {"inbound": 1}
    sent = {"status": "sent", "pricing": {"category": "UTILITY", "billable": True}}
    assert meter.event_amounts("messages.status", sent) == {"category:utility": 1}
    assert meter.event_amounts("messages.status", {**sent, "status": "delivered"}) == {}
    assert meter.event_amounts("messages.status", {"status": "sent", "pricing": None}) == {}
    assert meter.event_amounts("messages.echo", {}) == {}


def test_prices_and_months_refuse_what_is_malformed() -> None:
    assert parse_prices("marketing=700, delivery=2,")["marketing"] == 700
    assert parse_prices("")["utility"] == DEFAULT_PRICES["utility"]
    for text in ("marketing=6.5", "Marketing=1", "marketing", "=5", "marketing=-1"):
        with pytest.raises(ValueError):
            parse_prices(text)
    with pytest.raises(ValidationError, match="not name=whole-rupiah"):
        Settings(usage_prices="marketing=6.5")
    assert Settings(usage_prices="utility=1").price_table["utility"] == 1
    assert parse_month("2026-02") == "2026-02"
    for month in ("2026-13", "2026-00", "26-01", "2026-1", "1969-12", "2026/11"):
        with pytest.raises(ApiError):
            parse_month(month)
    assert bill("developer", 5_000)["total"] == 0
    assert bill("growth", 5_000) == {
        "currency": "IDR",
        "plan": "growth",
        "plan_fee": 25_000,
        "usage_billed": True,
        "usage_amount": 5_000,
        "total": 30_000,
    }
