"""PostgreSQL connections pinged before use only when they have sat idle in the pool.

SQLAlchemy's ``pool_pre_ping`` checks every connection it hands out, and asyncpg's check is three
round trips (``BEGIN``, ``;``, ``ROLLBACK``). A busy process hands connections out thousands of
times a second, each back in the pool a few milliseconds before, so the check cost more than many
of the statements it guarded. Here a connection is pinged only when it has been idle for longer
than :data:`IDLE_PING_SECONDS` (a server restart or a proxy's idle timeout hits those); one used
just before is trusted, and a failure while it is in use is handled as any other lost connection.
A failed ping makes the pool open a new connection in its place, as ``pool_pre_ping`` did.
"""

from __future__ import annotations

import time

from sqlalchemy import event, exc
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

IDLE_PING_SECONDS = 1.0
"""How long a connection may sit in the pool and still be handed out unchecked."""
_IDLE_SINCE = "kirem_idle_since"


def ping_after_idle(engine: AsyncEngine) -> None:
    """Ping ``engine``'s pooled connections at checkout once they were idle past :data:`IDLE_PING_SECONDS`."""
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _note_idle(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"idle connection lost: {error}") from error
        if not alive:
            raise exc.DisconnectionError("idle connection lost")
