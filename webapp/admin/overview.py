"""The system overview, the admin dashboard's landing page: what it shows, gathered in one place.

- From the database, as the counting job left them (site_stats.py): users, tasks by status,
  sign-ups and completions per day. Two reads by primary key, however big the site.
- From Redis, read now (live.py): active users, rate-limit refusals, cache hits, queues, workers,
  scheduled jobs, failed jobs. None when Redis does not answer: the page says so and shows the rest.
- The failed mail waiting for an admin: a count on its partial index.
- What /readyz checks (database, Redis, the scheduler's tick, a worker, failed mail), as status
  lines; the admin pages make those checks once a request. If Redis did not answer them, nothing
  else is read from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..ops import readiness
from ..reminders.failed import failed_count
from .charts import BarChart, bar_chart
from .live import LiveFacts, read_live_facts
from .site_stats import COUNT_EVERY_MINUTES, SiteFigures, chart_days, site_figures


@dataclass(frozen=True)
class ChartSpec:
    id: str
    title: str
    noun: str
    unavailable: str  # what the page says instead of the chart


CHARTS = (
    ChartSpec("signups", "Sign-ups per day", "sign-ups", "Not counted yet."),
    ChartSpec("completed", "Tasks completed per day", "tasks completed", "Not counted yet."),
    ChartSpec("active", "Active users per day", "active users", "Unavailable: Redis does not answer."),
    ChartSpec("refusals", "Rate-limit refusals per day", "refusals", "Unavailable: Redis does not answer."),
)


# Counts older than three runs of the counting job: it does not run.
LATE_AFTER = timedelta(minutes=3 * COUNT_EVERY_MINUTES)


@dataclass(frozen=True)
class StatusLine:
    name: str
    ok: bool
    outcome: str  # "ok", or what is wrong


@dataclass
class Overview:
    now: datetime
    status: list[StatusLine]
    figures: SiteFigures
    live: LiveFacts | None
    failed_mail: int
    charts: list[tuple[ChartSpec, BarChart | None]]  # None: unavailable (not counted yet, Redis down)

    @property
    def counts_are_late(self) -> bool:
        return self.figures.counted_at is not None and self.now - self.figures.counted_at > LATE_AFTER

    @property
    def signups_in_chart(self) -> int:
        return sum(value for _, value in self.figures.signups)

    @property
    def completed_in_chart(self) -> int:
        return sum(value for _, value in self.figures.completed)


def overview(now: datetime, checks: dict[str, str]) -> Overview:
    """The overview as of `now`, with `checks` as readiness.check() made them this request."""
    days = chart_days(now.date())
    figures = site_figures(now.date())
    live = read_live_facts(days) if checks["redis"] == readiness.OK else None
    counted = figures.counted_at is not None
    series = {
        "signups": figures.signups if counted else None,
        "completed": figures.completed if counted else None,
        "active": live.active if live else None,
        "refusals": live.refusals if live else None,
    }
    charts = [
        (
            spec,
            bar_chart(spec.id, spec.title, spec.noun, series[spec.id])
            if series[spec.id] is not None
            else None,
        )
        for spec in CHARTS
    ]
    status = [StatusLine(name, outcome == readiness.OK, outcome) for name, outcome in checks.items()]
    return Overview(
        now=now, status=status, figures=figures, live=live, failed_mail=failed_count(), charts=charts
    )
