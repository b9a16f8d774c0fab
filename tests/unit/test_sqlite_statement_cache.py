"""A SQLite connection's prepared statements cannot hold the process's memory (``CACHED_STATEMENTS``).

Batch statements change their text with the batch's size, and each prepared multi-row insert holds
memory in proportion to its bound values: with ``sqlite3``'s default cache of 128 statements per
connection, a server's memory grew with every new batch size it met.
"""

from __future__ import annotations

import os
from pathlib import Path

from kirem.db.sqlite_writer import CACHED_STATEMENTS, WriterLock, connector

ROWS, COLUMNS = 300, 10
BATCH_SIZES = 120
"""Distinct multi-row inserts: nearly four times the bounded cache, fewer than sqlite3's default keeps."""
BYTES_PER_VALUE = 85
"""What a prepared insert holds per bound value (measured: 96 such inserts, all kept, held 28 MiB)."""


def resident_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_distinct_batch_statements_hold_no_more_than_the_bounded_cache(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}"
    connection = await connector(url, WriterLock(30), 5)()
    try:
        columns = ", ".join(f"c{index}" for index in range(COLUMNS))
        await connection.execute(f"CREATE TABLE items ({columns})")
        row = "(" + ", ".join("?" * COLUMNS) + ")"
        statements = [
            f"INSERT INTO items ({columns}) VALUES " + ", ".join([row] * (ROWS + extra))
            for extra in range(BATCH_SIZES)
        ]
        await connection.execute(statements[0], [0] * COLUMNS * ROWS)  # the allocator's first arenas
        before = resident_bytes()
        for extra, statement in enumerate(statements):
            await connection.execute(statement, [0] * COLUMNS * (ROWS + extra))
        grown = resident_bytes() - before
    finally:
        await connection.close()
    per_statement = BYTES_PER_VALUE * COLUMNS * (ROWS + BATCH_SIZES // 2)
    kept_at_most = (CACHED_STATEMENTS + 48) * per_statement  # the cache, and room for the allocator
    assert grown < kept_at_most, f"{grown / 2**20:.1f} MiB for {BATCH_SIZES} statements"
