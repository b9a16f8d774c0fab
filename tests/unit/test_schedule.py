"""Retry schedule: jitter, exhaustion, Retry-After and per-target overrides."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from kirem.delivery.schedule import (
    DEFAULT_SCHEDULE,
    MAX_DELAY,
    next_delay,
    parse_retry_after,
)
from kirem.routing.target_settings import validate_schedule

NOW = datetime(2025, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_default_schedule() -> None:
    assert DEFAULT_SCHEDULE == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize("attempts_made", range(len(DEFAULT_SCHEDULE)))
def test_jitter_stays_within_20_percent(attempts_made: int) -> None:
    rng = random.Random(1234 + attempts_made)
    base = DEFAULT_SCHEDULE[attempts_made]
    draws = [next_delay(attempts_made, rng=rng) for _ in range(5000)]
    assert all(d is not None and base * 0.8 <= d <= base * 1.2 for d in draws)
    if base:
        # the draws spread across the band, both sides of the nominal value
        assert min(draws) < base * 0.82 and max(draws) > base * 1.18
        assert abs(sum(draws) / len(draws) - base) < base * 0.02


def test_first_attempt_is_immediate() -> None:
    assert next_delay(0, rng=random.Random(1)) == 0


def test_seeded_rng_is_deterministic() -> None:
    assert next_delay(3, rng=random.Random(7)) == next_delay(3, rng=random.Random(7))


def test_exhaustion_after_eight_attempts() -> None:
    assert next_delay(7) is not None
    assert next_delay(8) is None
    assert next_delay(100) is None


def test_max_attempts_shorter_and_longer_than_schedule() -> None:
    rng = random.Random(3)
    assert next_delay(2, max_attempts=2, rng=rng) is None
    assert next_delay(1, max_attempts=2, rng=rng) is not None
    # beyond the schedule the last value repeats
    delay = next_delay(12, max_attempts=15, rng=rng)
    assert delay is not None and 36000 * 0.8 <= delay <= 36000 * 1.2
    assert next_delay(15, max_attempts=15) is None
    assert next_delay(0, max_attempts=0) is None


def test_custom_schedule() -> None:
    rng = random.Random(5)
    assert next_delay(0, schedule=(10, 20), rng=rng) == pytest.approx(10, rel=0.2)
    assert next_delay(1, schedule=(10, 20), rng=rng) == pytest.approx(20, rel=0.2)
    assert next_delay(2, schedule=(10, 20), rng=rng) is None


def test_retry_after_longer_than_schedule_wins() -> None:
    assert next_delay(1, retry_after=120, rng=random.Random(1)) == 120


def test_retry_after_shorter_than_schedule_does_not_shorten() -> None:
    delay = next_delay(2, retry_after=10, rng=random.Random(1))
    assert delay is not None and delay >= 300 * 0.8


def test_retry_after_is_at_least_one_second() -> None:
    assert next_delay(0, retry_after=0) == 1
    assert next_delay(0, retry_after=0.2) == 1
    assert next_delay(0, retry_after=-5) == 1


def test_delays_are_capped_at_24_hours() -> None:
    assert next_delay(1, retry_after=10 * 86400) == MAX_DELAY == 86400
    assert next_delay(0, schedule=(86400,), rng=random.Random(2)) <= 86400
    assert all(next_delay(0, schedule=(86400,), rng=random.Random(i)) <= 86400 for i in range(200))


def test_attempt_exhaustion_ignores_retry_after() -> None:
    assert next_delay(8, retry_after=60) is None


def test_nan_retry_after_is_ignored() -> None:
    delay = next_delay(1, retry_after=math.nan, rng=random.Random(1))
    assert delay is not None and 4 <= delay <= 6


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 5 ", 5.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Thu, 01 May 2025 12:02:00 GMT", 120.0),
        ("Thursday, 01-May-25 12:00:30 GMT", 30.0),  # RFC 850
        ("Thu May  1 12:00:45 2025", 45.0),  # asctime
        ("Thu, 01 May 2025 11:00:00 GMT", 0.0),  # in the past
    ],
)
def test_parse_retry_after(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "12abc", "inf", "nan", "9" * 400, "Thu, 99"])
def test_parse_retry_after_garbage(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_parse_retry_after_with_naive_or_other_zone_now() -> None:
    value = "Thu, 01 May 2025 12:01:00 GMT"
    assert parse_retry_after(value, NOW.replace(tzinfo=None)) == 60
    assert parse_retry_after(value, NOW.astimezone(timezone(timedelta(hours=2)))) == 60


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([0, 5, 60], (0.0, 5.0, 60.0)),
        ((10,), (10.0,)),
        ([0.5, 86400], (0.5, 86400.0)),
        ([60] * 20, (60.0,) * 20),
    ],
)
def test_validate_schedule_ok(raw: object, expected: tuple[float, ...]) -> None:
    assert validate_schedule(raw) == (expected, None)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "0,5,60",
        {"a": 1},
        5,
        [],
        [1] * 21,
        [0, -1],
        [0, 86401],
        [0, "5"],
        [0, None],
        [True],
        [0, math.inf],
        [math.nan],
    ],
)
def test_validate_schedule_rejects(raw: object) -> None:
    schedule, error = validate_schedule(raw)
    assert schedule is None
    assert error and "schedule" in error
