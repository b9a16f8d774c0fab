"""Daily bar charts drawn as inline SVG by the template: the numbers and rectangles, no library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

WIDTH = 600
HEIGHT = 140
LABEL_SPACE = 16
"""Pixels under the bars for the day labels."""


def day_labels(until: datetime, days: int) -> list[str]:
    """The ``days`` UTC dates ending with ``until``'s, oldest first, as ``YYYY-MM-DD``."""
    last = until.date()
    return [(last - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


@dataclass
class DailySeries:
    """Counts per series and day, on fixed day labels (days the database has no row for count 0)."""

    labels: Sequence[str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, series: str, day: str, count: int) -> None:
        if day in self.labels:
            per_day = self.counts.setdefault(series, {})
            per_day[day] = per_day.get(day, 0) + count

    def value(self, series: str, day: str) -> int:
        return self.counts.get(series, {}).get(day, 0)

    def totals(self) -> dict[str, int]:
        return {series: sum(per_day.values()) for series, per_day in self.counts.items()}


def bar_chart(data: DailySeries, series: Sequence[str]) -> dict[str, Any]:
    """Grouped bars (one group per day, one bar per series), scaled to the largest count.

    Answers the SVG's size, the bars (``x``, ``y``, ``width``, ``height``, ``series``, ``day``,
    ``count`` for the tooltip) and the day labels to print (at most about ten).
    """
    days = len(data.labels)
    group = WIDTH / max(days, 1)
    bar = max(group * 0.8 / max(len(series), 1), 1.0)
    top = max((data.value(s, day) for s in series for day in data.labels), default=0)
    plot = HEIGHT - LABEL_SPACE
    bars = []
    for index, day in enumerate(data.labels):
        for position, name in enumerate(series):
            count = data.value(name, day)
            height = plot * count / top if top else 0.0
            bars.append(
                {
                    "x": round(index * group + group * 0.1 + position * bar, 2),
                    "y": round(plot - height, 2),
                    "width": round(bar, 2),
                    "height": round(height, 2),
                    "series": name,
                    "day": day,
                    "count": count,
                }
            )
    step = max(1, days // 10 + (1 if days % 10 else 0))
    labels = [
        {"x": round(index * group + group / 2, 2), "y": HEIGHT - 3, "text": day[5:]}
        for index, day in enumerate(data.labels)
        if index % step == 0
    ]
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "labels": labels, "max": top}
