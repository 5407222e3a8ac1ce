"""Bar charts of a figure per day, drawn server-side as SVG (admin/_chart.html): no script.

The SVG has no viewBox, so nothing in it scales: its width is the page's, bars are placed in
percentages of it, heights and text in pixels. Text stays the page's size on a phone and on a
desktop alike. The value axis's labels sit in HTML beside it, at the same heights as the grid
lines (PLOT_TOP, PLOT_HEIGHT; the CSS of .chart-values matches them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..formatting import thousands

PLOT_TOP = 8  # px above the highest grid line, so its label is not cut off
PLOT_HEIGHT = 144  # px from the highest grid line to the baseline
DAY_LABELS_AT = PLOT_TOP + PLOT_HEIGHT + 20  # the baseline of the day labels
HEIGHT = DAY_LABELS_AT + 6
MOST_GRID_LINES = 4  # above the baseline
BAR_SHARE = 0.7  # of each day's width; the rest is the gap between bars
LABEL_EVERY = 7  # days between day labels, counted back from today


def day_label(day: date) -> str:
    return f"{day.day} {day:%b}"


def _nice_step(largest: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50… that covers `largest` in MOST_GRID_LINES steps."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude * MOST_GRID_LINES >= largest:
                return factor * magnitude
        magnitude *= 10


@dataclass(frozen=True)
class Bar:
    day: date
    value: int
    x: float  # % of the width
    width: float  # % of the width
    y: float  # px
    height: float  # px
    today: bool

    @property
    def label(self) -> str:
        return day_label(self.day)


@dataclass(frozen=True)
class GridLine:
    value: int
    y: float  # px

    @property
    def label(self) -> str:
        return thousands(self.value)


@dataclass(frozen=True)
class DayTick:
    text: str
    x: float  # % of the width
    anchor: str  # SVG text-anchor: the first and last stay inside the chart


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    noun: str  # what is counted, plural: "sign-ups"
    bars: list[Bar]
    grid: list[GridLine]  # from the top down, the baseline last
    ticks: list[DayTick]
    height: int = HEIGHT
    day_labels_at: int = DAY_LABELS_AT

    @property
    def total(self) -> int:
        return sum(bar.value for bar in self.bars)

    @property
    def description(self) -> str:
        first, last = self.bars[0], self.bars[-1]
        busiest = max(self.bars, key=lambda bar: (bar.value, bar.day))
        if not busiest.value:
            return f"No {self.noun} from {first.label} to {last.label}."
        return (
            f"{thousands(self.total)} {self.noun} from {first.label} to {last.label}; the most,"
            f" {thousands(busiest.value)}, on {busiest.label}; {thousands(last.value)} today so far."
        )


def bar_chart(chart_id: str, title: str, noun: str, series: list[tuple[date, int]]) -> BarChart:
    """A chart of `series` (a value per day, oldest first; the last day is today, still going)."""
    largest = max(value for _, value in series)
    step = _nice_step(largest)
    lines = max(1, -(-largest // step))  # grid lines above the baseline: enough to reach `largest`
    top = step * lines
    baseline = PLOT_TOP + PLOT_HEIGHT
    slot = 100 / len(series)
    bars = []
    for index, (day, value) in enumerate(series):
        height = PLOT_HEIGHT * value / top
        if value:
            height = max(height, 2)  # one sign-up among thousands still shows
        bars.append(
            Bar(
                day=day,
                value=value,
                x=round(slot * (index + (1 - BAR_SHARE) / 2), 3),
                width=round(slot * BAR_SHARE, 3),
                y=round(baseline - height, 2),
                height=round(height, 2),
                today=index == len(series) - 1,
            )
        )
    grid = [GridLine(step * n, round(baseline - PLOT_HEIGHT * n / lines, 2)) for n in range(lines, -1, -1)]
    ticks = []
    for index in range(len(series) - 1, -1, -LABEL_EVERY):
        if index == len(series) - 1:
            ticks.append(DayTick(day_label(series[index][0]), 100, "end"))
        elif index * slot < 6:  # near the left edge: start at the bar, not centred on it
            ticks.append(DayTick(day_label(series[index][0]), round(slot * index, 3), "start"))
        else:
            ticks.append(DayTick(day_label(series[index][0]), round(slot * (index + 0.5), 3), "middle"))
    return BarChart(chart_id, title, noun, bars, grid, ticks[::-1])
