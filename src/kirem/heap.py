"""A serving process's heap, set up for the garbage collector once start-up is done.

Start-up imports and builds a few hundred thousand objects that live as long as the process
(modules, FastAPI's routes and pydantic's models, SQLAlchemy's tables). CPython's full collection
walks every one of them, with the event loop stopped: about 0.1 to 0.2 s each time, every few seconds
under load, which was the slow tail of the ingest latencies (docs/performance.md, "Ingest").
Frozen, they are skipped; what the process allocates afterwards is collected as before.

The young generation is collected after 5,000 net allocations instead of CPython's 700. Under load a
few dozen requests are in flight, each holding thousands of objects: at 700 most collections find
them still alive, walk them and promote them, and the older generations then walk them again. At
5,000 most have been freed by their reference counts before a collection comes: the collector's
CPU per sandbox send falls from 0.09 to 0.05 ms on SQLite and from 0.17 to 0.06 ms on PostgreSQL,
with pauses no longer than before (docs/performance.md, "Garbage collection").
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 5_000


def prepare_heap() -> None:
    """Collect start-up's garbage, move every object still alive out of the collector's reach, and
    collect the young generation less often.

    Call once start-up is done, just before serving: objects frozen here are never collected, so
    it is for a process that keeps them until it exits.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)
