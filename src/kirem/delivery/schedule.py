"""When to try a failed delivery again.

The default schedule makes 8 attempts: immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
10 h (about 27.6 hours in all). Each wait gets ±20 % uniform jitter so that deliveries that failed
together do not come back together. A target may override the schedule
(``kirem.routing.target_settings.validate_schedule``).

``Retry-After`` from the target is honoured within bounds: the wait becomes the larger of the
jittered schedule value and ``Retry-After``, is never shorter than ``MIN_RETRY_AFTER`` (1 s) when the
target sent one, and never longer than ``MAX_DELAY`` (24 h) in any case — a target cannot push a
delivery out indefinitely, nor ask to be hammered.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
"""Seconds to wait before attempt 1, 2, … 8."""

JITTER = 0.2
"""Each wait is multiplied by a uniform factor in [1 - JITTER, 1 + JITTER]."""

MAX_DELAY = 86400.0
"""No wait is ever longer than 24 h, whatever the schedule or ``Retry-After`` says."""

MIN_RETRY_AFTER = 1.0
"""When the target sent ``Retry-After``, the wait is at least this long."""

_RNG = random.Random()


def next_delay(
    attempts_made: int,
    *,
    schedule: Sequence[float] = DEFAULT_SCHEDULE,
    max_attempts: int | None = None,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds to wait before the next attempt, or None when no attempt is left.

    ``attempts_made`` is how many attempts were already made (0 for a new delivery, whose wait is
    ``schedule[0]``). ``max_attempts`` defaults to ``len(schedule)``; when it is larger, the last
    value of the schedule repeats. ``retry_after`` is the target's ``Retry-After`` in seconds, if any
    (see ``parse_retry_after``); the bounds are in the module docstring.
    """
    if not schedule:
        raise ValueError("the retry schedule is empty")
    limit = len(schedule) if max_attempts is None else max_attempts
    if attempts_made < 0:
        raise ValueError("attempts_made cannot be negative")
    if attempts_made >= limit:
        return None
    base = float(schedule[min(attempts_made, len(schedule) - 1)])
    delay = base * (rng or _RNG).uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None and math.isfinite(retry_after):
        delay = max(delay, retry_after, MIN_RETRY_AFTER)
    return min(max(delay, 0.0), MAX_DELAY)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds asked by a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3).

    A date in the past gives 0. A missing, negative or unreadable value gives None. ``now`` and a
    date without a zone are taken as UTC.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text[0].isdigit():
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):
            return seconds
        if text.replace(".", "", 1).isdigit():
            return None  # a number too large for a float: not a date either
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
