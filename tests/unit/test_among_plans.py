"""Lists sent as JSON on SQLite (``among_param(..., json_on_sqlite=True)``) must keep the statements
index searches: SQLite's planner guesses the size of such a list, so a statement where another
index competed could be planned as a scan of that index (these run for every processed batch)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Executable, event

from kirem.db.engine import Database
from kirem.inbound.batch import _owners_statement
from kirem.inbound.events import _lookup_statement
from kirem.messaging.statuses import _entries_statement, _move_forward
from kirem.pipeline.processor import _finish_statement
from tests.conftest import ENGINES

pytestmark = pytest.mark.parametrize("engine_name", [e for e in ENGINES if e == "sqlite"])  # its planner

NOW = datetime(2026, 1, 1, tzinfo=UTC)
STATEMENTS: list[tuple[Callable[[str], Executable], dict[str, Any], list[str]]] = [
    (
        _lookup_statement,
        {"dedup_keys": ["wamid.A", "wamid.B"], "project_ids": ["project-1"]},
        ["SEARCH events USING INDEX sqlite_autoindex_events_2 (project_id=? AND dedup_key=?)"],
    ),
    (
        _owners_statement,
        {"numbers": ["1001"], "wabas": ["2002"]},
        [
            "SEARCH channels USING INDEX sqlite_autoindex_channels_2 (phone_number_id=?)",
            "SEARCH channels USING INDEX ix_channels_waba_id (waba_id=?)",
        ],
    ),
    (
        _entries_statement,
        {"message_ids": ["wamid.A", "wamid.B"]},
        ["SEARCH message_logs USING INDEX ix_message_logs_wamid (message_id=?)"],
    ),
    (
        _move_forward,
        {
            "log_ids": ["log-1", "log-2"],
            "rank": 3,
            "new_status": "delivered",
            "new_error_code": None,
            "new_error_message": None,
            "moved_at": NOW,
        },
        ["SEARCH message_logs USING INDEX sqlite_autoindex_message_logs_1 (id=?)"],
    ),
    (
        _finish_statement,
        {"raw_ids": [1, 2], "outcome": "processed", "note": None, "done_at": NOW},
        ["SEARCH raw_events USING INTEGER PRIMARY KEY (rowid=?)"],
    ),
]


@pytest.mark.parametrize(
    ("build", "params", "searches"), STATEMENTS, ids=lambda v: getattr(v, "__name__", "")
)
async def test_a_json_list_is_searched_by_its_columns_index(
    database: Database, build: Callable[[str], Executable], params: dict[str, Any], searches: list[str]
) -> None:
    ran: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        ran.append((statement, parameters))

    async with database.engine.connect() as conn:
        event.listen(database.engine.sync_engine, "before_cursor_execute", remember)
        try:
            await conn.execute(build("sqlite"), params)
        finally:
            event.remove(database.engine.sync_engine, "before_cursor_execute", remember)
        [(statement, parameters)] = ran
        assert "json_each" in statement
        plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
        await conn.rollback()
    details = [str(row[-1]) for row in plan]
    assert not [d for d in details if d.startswith("SCAN") and "VIRTUAL TABLE" not in d], details
    for search in searches:
        assert search in details, details
