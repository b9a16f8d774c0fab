"""Group commit: callers wait on a shared batch transaction instead of each committing alone.

Callers ``submit`` an item and wait. One writer task takes everything waiting, hands it to
``write`` (one transaction), and releases the callers once it returned; if it raised, every caller of
that batch gets ``BatchFailed`` (or, with ``alone_on_failure``, each item is written again in a batch
of its own, so one bad item fails only its own caller). ``write`` may also answer one outcome per
item: an exception there is raised to that item's caller alone (a refusal decided in the batch).
While a batch is being written the next items gather for the following one, so batches grow with
the load and no timer delays a lone item.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Outcomes = Sequence[BaseException | None] | None
"""What ``write`` answers: nothing (every item written), or one outcome per item in order."""


class BatchFailed(Exception):
    """The batch holding this item could not be written."""


class GroupCommitter(Generic[Item]):
    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[Outcomes]],
        max_batch: int,
        name: str,
        *,
        alone_on_failure: bool = False,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._name = name
        self._alone_on_failure = alone_on_failure
        self._waiting: list[tuple[Item, asyncio.Future[None]]] = []
        self._wakeup = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closing = False

    async def submit(self, item: Item) -> None:
        """Return once ``item``'s batch is written; raise ``BatchFailed`` if writing it failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._closing = False
            self._writer = asyncio.create_task(self._write_loop(), name=self._name)
        self._wakeup.set()
        await done

    async def _write_loop(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(0)  # let items submitted in the same turn of the loop join
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                await self._write_batch(batch)
            if self._closing:
                return

    async def _write_batch(self, batch: list[tuple[Item, asyncio.Future[None]]]) -> None:
        try:
            outcomes = await self._write([item for item, _ in batch])
        except Exception as exc:
            if self._alone_on_failure and len(batch) > 1:
                for single in batch:
                    await self._write_batch([single])
                return
            for _, done in batch:
                if not done.done():
                    done.set_exception(BatchFailed(f"{exc.__class__.__name__}: {exc}"))
            return
        for index, (_, done) in enumerate(batch):
            if done.done():  # a caller that went away (cancelled) no longer waits
                continue
            outcome = outcomes[index] if outcomes is not None else None
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)

    async def aclose(self) -> None:
        """Let the writer write what is still waiting, then stop it."""
        self._closing = True
        if self._writer is not None:
            self._wakeup.set()
            await self._writer
            self._writer = None
