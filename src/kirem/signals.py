"""Wake-ups between the parts of one process, and across processes through PostgreSQL.

The receiver wakes the inbound processor, the processor wakes the delivery worker. In one process
that is an ``asyncio.Event``; on PostgreSQL every write also sends ``NOTIFY`` so workers in other
processes (``kirem worker``) wake too. Nobody relies on a wake-up alone: every loop also polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("kirem.signals")

RAW_EVENTS = "kirem_raw_events"
DELIVERIES = "kirem_deliveries"
CHANNELS = (RAW_EVENTS, DELIVERIES)


class Signals:
    def __init__(self) -> None:
        self._events = {name: asyncio.Event() for name in CHANNELS}
        self.notices: dict[str, Callable[[str], None]] = {}
        """Other PostgreSQL channels relayed by :func:`listen`: the handler gets each payload, and
        ``*`` whenever the connection was (re)made, since notices may have been missed meanwhile."""

    def wake(self, channel: str) -> None:
        self._events[channel].set()

    def clear(self, channel: str) -> None:
        """Forget a wake-up: the caller is about to look for the work it announces."""
        self._events[channel].clear()

    async def wait(self, channel: str, seconds: float) -> None:
        """Until woken or ``seconds`` passed, whichever is first."""
        event = self._events[channel]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        event.clear()


async def notify(session: AsyncSession, channel: str) -> None:
    """Queue a ``NOTIFY`` in the session's transaction (sent at commit); nothing on SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


async def listen(database_url: str, signals: Signals, stop: asyncio.Event) -> None:
    """Relay PostgreSQL notifications to this process's signals until ``stop`` is set."""
    import asyncpg

    dsn = "postgresql://" + database_url.split("://", 1)[1]
    while not stop.is_set():
        try:
            conn: Any = await asyncpg.connect(dsn)
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN connection failed (%s); polling only, retrying in 5 s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)
            continue
        try:
            for channel in CHANNELS:
                await conn.add_listener(channel, lambda *_args, _c=channel: signals.wake(_c))
            for channel, handler in signals.notices.items():
                await conn.add_listener(channel, lambda _conn, _pid, _chan, payload, _h=handler: _h(payload))
                handler("*")
            while not stop.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5)
        finally:
            with contextlib.suppress(Exception):
                await conn.close()
