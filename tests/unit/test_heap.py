"""The serving process's heap set-up (``kirem.heap.prepare_heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kirem.heap import YOUNG_GENERATION_THRESHOLD, prepare_heap


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_restored")
def test_start_up_objects_are_frozen_and_the_young_generation_collected_less_often() -> None:
    survivor: list[object] = [["lives as long as the process"]]
    assert gc.is_tracked(survivor)
    _, middle, old = gc.get_threshold()

    prepare_heap()

    assert gc.get_freeze_count() > 0
    assert not any(each is survivor for each in gc.get_objects())
    assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, middle, old)
