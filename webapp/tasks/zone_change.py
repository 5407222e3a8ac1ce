"""What happens to a user's tasks when they change their time zone.

A task with a due time keeps its moment: the same instant, so its clock time in the new zone
differs ("Tue 17:00" in London is "Tue 12:00" in New York). An all-day task keeps its date: it
is stored as the end of that day in the user's zone, so it is moved to the end of the same date
in the new zone, with its pending reminders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func

from ..access import visible_tasks
from ..extensions import db
from ..models import TASK_OPEN, Task, User
from ..reminders.services import shift_task_reminders
from ..timezones import END_OF_DAY, local_to_utc, now_utc, to_local

EXAMPLES = 3


@dataclass(frozen=True)
class ClockChange:
    """One timed task, as its due time reads before and after the change."""

    title: str
    before: datetime
    after: datetime


@dataclass(frozen=True)
class ZoneChange:
    old_zone: str
    new_zone: str
    timed: int  # open tasks with a due time: they keep their moment
    all_day: int  # open tasks due on a day: they keep their date
    examples: list[ClockChange]

    @property
    def moves_anything(self) -> bool:
        return bool(self.timed or self.all_day)


def preview_zone_change(user: User, new_zone: str, now: datetime | None = None) -> ZoneChange:
    """What changing `user`'s zone to `new_zone` does to their open tasks (nothing is changed)."""
    now = now or now_utc()
    dated = visible_tasks(user).where(TASK_OPEN, Task.due_at.is_not(None))
    counts = dict(
        db.session.execute(
            dated.with_only_columns(Task.due_all_day, func.count()).group_by(Task.due_all_day)
        ).all()
    )
    soonest = db.session.execute(
        dated.with_only_columns(Task.title, Task.due_at)
        .where(Task.due_all_day.is_(False), Task.due_at >= now)
        .order_by(Task.due_at, Task.id)
        .limit(EXAMPLES)
    ).all()
    examples = [
        ClockChange(title, to_local(at, user.timezone), to_local(at, new_zone)) for title, at in soonest
    ]
    return ZoneChange(user.timezone, new_zone, counts.get(False, 0), counts.get(True, 0), examples)


def keep_all_day_dates(user: User, old_zone: str, new_zone: str) -> int:
    """Move every all-day task of the user (done and deleted ones too) to the end of the same
    date in `new_zone`, with its pending reminders; how many moved (caller commits)."""
    moved = 0
    all_day = visible_tasks(user, include_deleted=True).where(
        Task.due_all_day.is_(True), Task.due_at.is_not(None)
    )
    for task in db.session.scalars(all_day):
        same_date = local_to_utc(to_local(task.due_at, old_zone).date(), END_OF_DAY, new_zone)
        if same_date != task.due_at:
            shift_task_reminders(task, same_date - task.due_at)
            task.due_at = same_date
            moved += 1
    return moved
