"""What a webhook target may configure about its deliveries: payload format and retry schedule."""

from __future__ import annotations

import math

PAYLOAD_FORMATS = ("kirem", "meta")
"""``kirem``: Kirem's event envelope; ``meta``: Meta's webhook body, signed as Meta signs it."""

MAX_SCHEDULE_LENGTH = 20
MAX_SCHEDULE_STEP = 86400.0


def validate_schedule(raw: object) -> tuple[tuple[float, ...] | None, str | None]:
    """Check a per-target retry schedule: ``(schedule, None)`` when valid, else ``(None, error)``.

    A valid schedule is a list of 1 to 20 numbers of seconds, each between 0 and 86400. The first
    value is the wait before the first attempt (usually 0).
    """
    if isinstance(raw, str | bytes) or not isinstance(raw, list | tuple):
        return None, f"retry schedule must be a list of 1 to {MAX_SCHEDULE_LENGTH} delays in seconds"
    if not 1 <= len(raw) <= MAX_SCHEDULE_LENGTH:
        return None, (
            f"retry schedule must hold 1 to {MAX_SCHEDULE_LENGTH} delays in seconds (got {len(raw)})"
        )
    steps: list[float] = []
    for index, item in enumerate(raw):
        if (
            isinstance(item, bool)
            or not isinstance(item, int | float)
            or not math.isfinite(item)
            or not 0 <= item <= MAX_SCHEDULE_STEP
        ):
            return None, (
                f"retry schedule item {index} must be a number of seconds from 0 to "
                f"{MAX_SCHEDULE_STEP:.0f} (got {item!r})"
            )
        steps.append(float(item))
    return tuple(steps), None
