"""The dashboard's numbers: a few aggregate queries, never loading the rows themselves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func

from ..access import visible_tasks
from ..extensions import db
from ..models import TASK_NOT_DONE, Status, Task, User
from ..replica import reading
from ..tasks.queries import TaskFilters, TaskRow, day_bounds, first_tasks, week_bounds
from ..timezones import now_utc

SHORT_LIST = 5


@dataclass
class Summary:
    by_status: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    due_today: int = 0
    completed_this_week: int = 0
    overdue_tasks: list[TaskRow] = field(default_factory=list)
    due_today_tasks: list[TaskRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def summary(user: User, now: datetime | None = None) -> Summary:
    """Counts by status, overdue, due today (not done) and done this local week (Monday start)."""
    with reading(user):
        return _summary(user, now or now_utc())


def _summary(user: User, now: datetime) -> Summary:
    rows = db.session.execute(
        visible_tasks(user).with_only_columns(Task.status, func.count()).group_by(Task.status)
    )
    by_status = {status: count for status, count in rows}
    day_start, day_end = day_bounds(user, now)
    week_start, week_end = week_bounds(user, now)
    open_ = TASK_NOT_DONE
    overdue, due_today = db.session.execute(
        visible_tasks(user)
        .with_only_columns(
            func.count(case((Task.due_at < now, 1))),
            func.count(case((Task.due_at >= day_start, 1))),
        )
        .where(open_, Task.due_at.is_not(None), Task.due_at < day_end)
    ).one()
    completed = db.session.scalar(
        visible_tasks(user)
        .with_only_columns(func.count())
        .where(Task.completed_at >= week_start, Task.completed_at < week_end)
    )
    return Summary(
        by_status={status.value: by_status.get(status.value, 0) for status in Status},
        overdue=overdue,
        due_today=due_today,
        completed_this_week=completed or 0,
        overdue_tasks=first_tasks(user, TaskFilters(due="overdue"), SHORT_LIST, now),
        due_today_tasks=first_tasks(user, TaskFilters(due="today", status="open"), SHORT_LIST, now),
    )
