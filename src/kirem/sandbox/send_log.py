"""The sandbox's accepted sends, group-committed: concurrent sends share one transaction.

An accepted send writes the record of its wamid (``sandbox_messages``, which read receipts are
checked against) and the status webhooks it owes Kirem (``sandbox_outbox``, one lane per message).
:class:`SendLog` hands both to a :class:`~kirem.db.group_commit.GroupCommitter`, so the sends in
flight together are one transaction of two multi-row inserts instead of a commit each; a send is
answered only once its batch is durable. A batch that fails is written again one send at a time, so
one bad send fails only its own request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from kirem.db.engine import Database
from kirem.db.group_commit import GroupCommitter
from kirem.sandbox.models import SandboxMessage, SandboxOutbox

MAX_BATCH = 200
"""Sends per transaction at most (a send binds 6 values for its message and 15 for its statuses)."""


@dataclass(frozen=True)
class IssuedSend:
    """The rows of one accepted send: its message record and its outbox rows, in lane order."""

    message: dict[str, Any]
    outbox: list[dict[str, Any]]


class SendLog:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._committer = GroupCommitter(self._write, MAX_BATCH, "sandbox-sends", alone_on_failure=True)

    async def record(self, send: IssuedSend) -> None:
        """Return once ``send`` is committed; ``BatchFailed`` if it could not be written."""
        await self._committer.submit(send)

    async def _write(self, batch: list[IssuedSend]) -> None:
        async with self._database.batch_transaction() as session:
            await session.execute(insert(SandboxMessage), [send.message for send in batch])
            await session.execute(insert(SandboxOutbox), [row for send in batch for row in send.outbox])

    async def aclose(self) -> None:
        await self._committer.aclose()
