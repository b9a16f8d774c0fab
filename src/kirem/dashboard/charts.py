"""Small bar charts drawn as inline SVG on the server (no chart library, nothing to download)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 700
HEIGHT = 150
AXIS = 18
"""Room under the bars for the day labels."""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str
    value: int
    label: str


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    labels: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    maximum: int = 0


def grouped_bars(groups: list[tuple[str, dict[str, int]]], series: tuple[str, ...]) -> BarChart:
    """One group of bars per label (a day), one bar per series, scaled to the largest value."""
    maximum = max((values.get(s, 0) for _, values in groups for s in series), default=0)
    plot = HEIGHT - AXIS
    slot = WIDTH / max(len(groups), 1)
    bar_width = slot * 0.8 / max(len(series), 1)
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    for index, (label, values) in enumerate(groups):
        left = index * slot + slot * 0.1
        labels.append((index * slot + slot / 2, label))
        for position, name in enumerate(series):
            value = values.get(name, 0)
            height = (value / maximum) * (plot - 4) if maximum else 0
            if value and height < 2:
                height = 2  # a non-zero day stays visible
            bars.append(
                Bar(
                    x=round(left + position * bar_width, 1),
                    y=round(plot - height, 1),
                    width=round(bar_width * 0.9, 1),
                    height=round(height, 1),
                    series=name,
                    value=value,
                    label=label,
                )
            )
    return BarChart(bars, labels, maximum=maximum)
