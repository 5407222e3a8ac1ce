"""The overview's figures that would cost a pass over big tables: counted by a periodic job
(jobs/site_stats.py, every COUNT_EVERY_MINUTES) into daily_stats and site_totals, which the page reads.

Each count reads an index: sign-ups and completions of the chart's days by their time, tasks by
status from the status index (a pass over an index, but in the job, not in a request). The last
CHART_DAYS days are counted again each time (today's figures grow; a task done yesterday may be
reopened), older days keep what was counted last. Counting twice writes the same rows: upserts,
so two runs at once (the scheduler's and `flask overview count`) cannot collide either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import Status, Task, User
from .models import DailyStat, SiteTotal

COUNT_EVERY_MINUTES = 5  # how often the scheduler runs the counting job (jobs/schedule.py)
CHART_DAYS = 30
SIGNUPS = "signups"
COMPLETED = "tasks_completed"
DAILY_METRICS = (SIGNUPS, COMPLETED)
USERS = "users"


def _status_metric(status: Status) -> str:
    return f"tasks_{status.value}"


def chart_days(today: date) -> list[date]:
    """The chart's days, oldest first, ending with today."""
    return [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]


Series = list[tuple[date, int]]


@dataclass
class SiteFigures:
    counted_at: datetime | None  # None: never counted yet
    users: int = 0
    tasks_by_status: dict[Status, int] = field(default_factory=dict)
    signups: Series = field(default_factory=list)
    completed: Series = field(default_factory=list)

    @property
    def tasks(self) -> int:
        return sum(self.tasks_by_status.values())


# --- counting (the job) ---------------------------------------------------------------------------


def _per_day(column, start: datetime, end: datetime, *conditions: ColumnElement) -> dict[date, int]:
    day = func.date(column)
    rows = db.session.execute(
        select(day, func.count()).where(column >= start, column < end, *conditions).group_by(day)
    )
    # SQLite answers 'YYYY-MM-DD' text, PostgreSQL a date.
    return {date.fromisoformat(str(value)[:10]): count for value, count in rows}


def _upsert(model, rows: list[dict], keys: list[str], values: list[str]) -> None:
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(model)
    db.session.execute(
        statement.on_conflict_do_update(
            index_elements=keys, set_={name: getattr(statement.excluded, name) for name in values}
        ),
        rows,
    )


def count_site_figures(now: datetime) -> dict:
    """Count the overview's figures as of `now` and store them; what was counted (JSON-safe)."""
    days = chart_days(now.date())
    start = datetime.combine(days[0], time(), UTC)
    end = start + timedelta(days=CHART_DAYS)
    daily = {
        SIGNUPS: _per_day(User.created_at, start, end),
        COMPLETED: _per_day(Task.completed_at, start, end),
    }
    by_status = dict(
        db.session.execute(
            select(Task.status, func.count()).where(Task.deleted_at.is_(None)).group_by(Task.status)
        ).all()
    )
    totals = {USERS: db.session.scalar(select(func.count()).select_from(User))}
    totals |= {_status_metric(status): by_status.get(status.value, 0) for status in Status}

    _upsert(
        DailyStat,
        [
            {"metric": metric, "day": day, "value": counts.get(day, 0)}
            for metric, counts in daily.items()
            for day in days
        ],
        ["metric", "day"],
        ["value"],
    )
    _upsert(
        SiteTotal,
        [{"metric": metric, "value": value, "counted_at": now} for metric, value in totals.items()],
        ["metric"],
        ["value", "counted_at"],
    )
    db.session.commit()
    return {
        "counted_at": now.isoformat(),
        **totals,
        **{metric: sum(counts.values()) for metric, counts in daily.items()},
    }


# --- reading (the page) ---------------------------------------------------------------------------


def site_figures(today: date) -> SiteFigures:
    """What the counting job stored last: two small reads by primary key."""
    totals = {row.metric: row for row in db.session.scalars(select(SiteTotal))}
    if not totals:
        return SiteFigures(counted_at=None)
    days = chart_days(today)
    stored = {
        (row.metric, row.day): row.value
        for row in db.session.scalars(
            select(DailyStat).where(
                DailyStat.metric.in_(DAILY_METRICS), DailyStat.day >= days[0], DailyStat.day <= days[-1]
            )
        )
    }

    def series(metric: str) -> Series:
        return [(day, stored.get((metric, day), 0)) for day in days]

    def total(metric: str) -> int:
        return totals[metric].value if metric in totals else 0

    return SiteFigures(
        counted_at=min(row.counted_at for row in totals.values()),
        users=total(USERS),
        tasks_by_status={status: total(_status_metric(status)) for status in Status},
        signups=series(SIGNUPS),
        completed=series(COMPLETED),
    )
