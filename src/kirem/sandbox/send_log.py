"""The sandbox's accepted sends, group-committed: concurrent sends share one transaction.

An accepted send writes the record of its wamid (``sandbox_messages``, which read receipts are
checked against) and the status webhooks it owes Kirem (``sandbox_outbox``, one lane per message),
whose ``failed`` or billing depend on the customer's 24-hour window. :class:`SendLog` hands each
send to a :class:`~kirem.db.group_commit.GroupCommitter`: the sends in flight together have their
customers' windows read in one query per number and are written in one transaction of two
multi-row inserts, instead of a read and a commit each; a send is answered only once its batch is
durable. A batch that fails is written again one send at a time, so one bad send fails only its own
request.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, bindparam, insert, select

from kirem.db.engine import Database
from kirem.db.group_commit import GroupCommitter
from kirem.sandbox.models import SandboxMessage, SandboxOutbox, SandboxWindow

if TYPE_CHECKING:
    from kirem.sandbox.messages import IssuedSend

MAX_BATCH = 200
"""Sends per transaction at most (a send binds 6 values for its message and 15 for its statuses)."""

LAST_INBOUND = select(SandboxWindow.wa_id, SandboxWindow.last_inbound_at).where(
    SandboxWindow.phone_number_id == bindparam("number"),
    SandboxWindow.wa_id.in_(bindparam("customers", expanding=True)),
)
"""When each of ``:customers`` last wrote to ``:number``. The batch's statements are built once."""
INSERT_MESSAGES = insert(cast("Table", SandboxMessage.__table__))
INSERT_OUTBOX = insert(cast("Table", SandboxOutbox.__table__))


class SendLog:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._committer = GroupCommitter(self._write, MAX_BATCH, "sandbox-sends", alone_on_failure=True)

    async def record(self, send: IssuedSend) -> None:
        """Return once ``send`` is committed; ``BatchFailed`` if it could not be written."""
        await self._committer.submit(send)

    async def _last_inbound(self, batch: list[IssuedSend]) -> dict[tuple[str, str], datetime]:
        """When each customer of ``batch`` last wrote to the number the send came from."""
        customers: dict[str, set[str]] = defaultdict(set)
        for send in batch:
            number, customer = send.window_key
            customers[number].add(customer)
        found: dict[tuple[str, str], datetime] = {}
        async with self._database.session() as session:
            for number in sorted(customers):
                wanted = {"number": number, "customers": sorted(customers[number])}
                for wa_id, last_inbound_at in await session.execute(LAST_INBOUND, wanted):
                    found[number, wa_id] = last_inbound_at
        return found

    async def _write(self, batch: list[IssuedSend]) -> None:
        last_inbound = await self._last_inbound(batch)
        outbox = [row for send in batch for row in send.outbox_rows(last_inbound.get(send.window_key))]
        async with self._database.batch_transaction() as session:  # Core tables: no ORM bulk work per row
            await session.execute(INSERT_MESSAGES, [s.message for s in batch])
            await session.execute(INSERT_OUTBOX, outbox)

    async def aclose(self) -> None:
        await self._committer.aclose()
