"""The events log's redelivery lookup must stay an index search: it runs for every processed batch,
so a table scan would make processing slower with every event ever stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from kirem.db.engine import Database
from kirem.inbound.events import EventLog
from tests.conftest import ENGINES

pytestmark = pytest.mark.parametrize("engine_name", [e for e in ENGINES if e == "sqlite"])  # its planner


async def test_the_redelivery_lookup_searches_the_events_index(database: Database) -> None:
    ran: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM events" in statement:
            ran.append((statement, parameters))

    event.listen(database.engine.sync_engine, "before_cursor_execute", remember)
    try:
        async with database.session() as session:
            keys = [("project-1", "wamid.A"), ("project-1", "wamid.B"), ("project-2", "wamid.C")]
            await EventLog.lookup(session, keys)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", remember)
    [(statement, parameters)] = ran
    async with database.engine.connect() as conn:
        plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
    details = [str(row[-1]) for row in plan]
    assert not [d for d in details if d.startswith("SCAN events")], details
    assert [d for d in details if d.startswith("SEARCH events USING")], details
