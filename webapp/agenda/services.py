"""What Today and Upcoming show: open tasks by day, in the user's zone, a bounded number of each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..formatting import day_heading
from ..models import User
from ..tasks.queries import TaskFilters, TaskRow, first_tasks
from ..timezones import local_today, now_utc, to_local

SHOWN = 100  # tasks a section shows; past that, a link to the whole list
UPCOMING_DAYS = 7


@dataclass(frozen=True)
class Section:
    rows: list[TaskRow]
    more: bool  # more tasks than shown: link to the full list
    filters: TaskFilters


@dataclass(frozen=True)
class Day:
    day: date
    heading: str
    rows: list[TaskRow]


def _section(user: User, filters: TaskFilters, now: datetime) -> Section:
    rows = first_tasks(user, filters, SHOWN + 1, now)
    return Section(rows[:SHOWN], len(rows) > SHOWN, filters)


def today(user: User, now: datetime | None = None) -> dict[str, Section]:
    """What is overdue, and what is due today and not done."""
    now = now or now_utc()
    return {
        "overdue": _section(user, TaskFilters(due="overdue"), now),
        "due_today": _section(user, TaskFilters(due="today", status="open"), now),
    }


def upcoming(user: User, now: datetime | None = None) -> tuple[list[Day], Section]:
    """The next seven days from today, each with the open tasks due on it (empty days too)."""
    now = now or now_utc()
    section = _section(user, TaskFilters(due="next7", status="open"), now)
    first = local_today(user.timezone, now)
    days = [
        Day(day, day_heading(day, first), [])
        for day in (first + timedelta(days=offset) for offset in range(UPCOMING_DAYS))
    ]
    for row in section.rows:
        days[(to_local(row.due_at, user.timezone).date() - first).days].rows.append(row)
    return days, section
