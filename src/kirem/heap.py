"""A serving process's start-up objects, kept out of the garbage collector's full collections.

Start-up imports and builds a few hundred thousand objects that live as long as the process
(modules, FastAPI's routes and pydantic's models, SQLAlchemy's tables). CPython's full collection
walks every one of them, with the event loop stopped: about 0.1 to 0.2 s each time, every few seconds
under load, which was the slow tail of the ingest latencies (docs/performance.md, "Ingest").
Frozen, they are skipped; what the process allocates afterwards is collected as before.
"""

from __future__ import annotations

import gc


def freeze_start_up() -> None:
    """Collect start-up's garbage, then move every object still alive out of the collector's reach.

    Call once start-up is done, just before serving: objects frozen here are never collected, so
    it is for a process that keeps them until it exits.
    """
    gc.collect()
    gc.freeze()
