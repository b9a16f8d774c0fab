"""The shared kit: refusal kinds, count-and-page with a time window, StrEnums on the wire and stored."""

from __future__ import annotations

from datetime import timedelta
from typing import cast

import orjson
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kirem.api.responses import ApiError, error_response
from kirem.crypto import Sealer
from kirem.db.base import utcnow
from kirem.db.engine import Database
from kirem.kit.enums import ChannelStatus, EventType
from kirem.kit.errors import Conflict, DependencyFailed, Forbidden, Invalid, NotFound, not_found
from kirem.kit.paging import in_window, last_page, listing, page_of, total_of
from kirem.kit.params import Window
from kirem.routing.conditions import EVENT_TYPES
from kirem.tenancy import service
from kirem.tenancy.models import Account, Channel, Project
from tests.racing import CommitsBetweenStatements


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (Invalid({"name": "too long"}), 400),
        (Forbidden("no"), 403),
        (NotFound("Target not found"), 404),
        (Conflict("taken", {"name": "x"}), 409),
        (DependencyFailed("Meta is down"), 424),
    ],
)
def test_a_refusal_is_rendered_in_the_wrapper_with_its_kind_status(refusal: ApiError, status: int) -> None:
    assert isinstance(refusal, ApiError)
    answer = error_response(refusal)
    body = orjson.loads(answer.body)
    assert answer.status_code == status == body["status"]
    assert body["message"] == refusal.message
    assert body["errors"] == (refusal.errors if refusal.errors is not None else {})


def test_not_found_names_what_is_missing() -> None:
    refusal = not_found("Delivery")
    assert (refusal.status, refusal.message) == (404, "Delivery not found")


def test_enums_are_their_strings_on_the_wire() -> None:
    assert EVENT_TYPES[0] == "messages.received" and f"{EventType.SLA_BREACHED}" == "sla.breached"
    assert orjson.dumps({"type": EventType.CHANNELS_CONNECTED}) == b'{"type":"channels.connected"}'


async def test_count_and_page_within_a_window(database: Database, settings) -> None:
    sealer = Sealer.from_settings(settings)
    async with database.transaction() as session:
        account = await service.create_account(session, "paging-co", "scale")
        project = await service.create_project(session, sealer, account, "main")
        for number in range(5):
            channel = await service.add_channel(
                session,
                sealer,
                project,
                kind="live",
                phone_number_id=f"90{number}",
                waba_id="9",
                access_token="t",
            )
            channel.status = ChannelStatus.ACTIVE
    now = utcnow()
    async with database.session() as session:
        stmt = select(Channel).where(Channel.project_id == project.id)
        total, page = await page_of(session, stmt, (Channel.phone_number_id.desc(),), limit=2, offset=1)
        assert total == 5 and [c.phone_number_id for c in page] == ["903", "902"]
        assert all(c.status == "active" for c in page)
        future = Window(since=now + timedelta(hours=1), until=None, limit=10, offset=0)
        assert await total_of(session, in_window(stmt, Channel.created_at, future)) == 0
        past = Window(since=now - timedelta(hours=1), until=now + timedelta(hours=1), limit=10, offset=0)
        assert await total_of(session, in_window(stmt, Channel.created_at, past)) == 5
        assert await total_of(session, select(Project).where(Project.id == project.id)) == 1
    assert listing("logs", [1], total=3, limit=1, offset=0) == {
        "total": 3,
        "limit": 1,
        "offset": 0,
        "logs": [1],
    }


async def test_a_page_and_its_total_are_read_together(database: Database) -> None:
    """Regression: the total and the rows were two reads; a row committed between them was in one only."""
    added = 0

    async def commit_one() -> None:
        nonlocal added
        added += 1
        async with database.transaction() as other:
            await service.create_account(other, f"race-{added}", "scale")

    await commit_one()
    async with database.session() as session:
        racing = cast(AsyncSession, CommitsBetweenStatements(session, commit_one))
        stmt = select(Account).where(Account.name.like("race-%"))
        total, page = await page_of(racing, stmt, (Account.name,), limit=10, offset=0)
        assert total == len(page) == 1
        total, page = await page_of(racing, stmt, (Account.name,), limit=10, offset=10)  # past the end
        assert total == added - 1 and page == []
        end = added
        total, page = await page_of(racing, stmt, (Account.name,), limit=10, offset=end)  # the end, then not
        assert page and total == end + len(page) == added - 1


async def test_the_last_page_counts_back_from_the_end(database: Database) -> None:
    async with database.transaction() as session:
        for number in range(7):
            await service.create_account(session, f"tail-{number}", "scale")
    async with database.session() as session:
        stmt = select(Account).where(Account.name.like("tail-%"))

        async def names(limit: int, back: int) -> tuple[int, list[str]]:
            total, rows = await last_page(session, stmt, (Account.name,), limit=limit, back=back)
            return total, [row.name for row in rows]

        assert await names(3, 0) == (7, ["tail-4", "tail-5", "tail-6"])
        assert await names(3, 1) == (7, ["tail-1", "tail-2", "tail-3"])
        assert await names(3, 2) == (7, ["tail-0", "tail-1", "tail-2"])  # short of a page: the first
        assert await names(3, 9) == (7, ["tail-0", "tail-1", "tail-2"])
        assert await names(10, 0) == (7, [f"tail-{n}" for n in range(7)])
        none = stmt.where(Account.name == "none")
        assert await last_page(session, none, (Account.name,), limit=3) == (0, [])
