"""What a user does to a task: create, edit, complete, move, delete and undo."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, select

from ..access import visible_tasks
from ..cache import tasks_changed
from ..extensions import db
from ..models import Priority, Project, Status, Tag, Task, User
from ..projects.services import ProjectConflict, ensure_inbox
from ..reminders.services import (
    bring_back_task_reminders,
    cancel_task_reminders,
    set_aside_task_reminders,
    shift_task_reminders,
)
from ..timezones import END_OF_DAY, local_to_utc, now_utc, to_local

MAX_TAGS = 20
MAX_TAG_LENGTH = 40
# A deleted task stays in the trash this long, then the purge job removes it for good.
KEEP_DELETED_TASKS = timedelta(days=30)
# The trash shows at most this many tasks, the most recently deleted first.
TRASH_PAGE_SIZE = 200


class TagError(ValueError):
    """Tags the user typed that we cannot keep (too long, too many)."""


@dataclass
class TaskChanges:
    """Validated input from the edit form."""

    title: str
    notes: str
    status: Status
    priority: Priority
    project: Project
    due_date: date | None
    due_time: time | None
    tags: list[str]


def parse_tags(raw: str) -> list[str]:
    """'Home, errands,home ' -> ['home', 'errands']: lower-case, trimmed, no duplicates."""
    names: list[str] = []
    for part in raw.split(","):
        name = " ".join(part.split()).lower()
        if not name or name in names:
            continue
        if len(name) > MAX_TAG_LENGTH:
            raise TagError(f"Each tag can be at most {MAX_TAG_LENGTH} characters (“{name[:20]}…” is longer).")
        names.append(name)
    if len(names) > MAX_TAGS:
        raise TagError(f"A task can have at most {MAX_TAGS} tags.")
    return names


def tags_text(task: Task) -> str:
    return ", ".join(tag.name for tag in task.tags)


def _tags_for(user: User, names: list[str]) -> list[Tag]:
    """The user's Tag rows with these names, creating the missing ones."""
    if not names:
        return []
    existing = {
        tag.name: tag
        for tag in db.session.scalars(select(Tag).where(Tag.owner_id == user.id, Tag.name.in_(names)))
    }
    for name in names:
        if name not in existing:
            existing[name] = Tag(owner_id=user.id, name=name)
            db.session.add(existing[name])
    return [existing[name] for name in names]


def due_instant(due_date: date | None, due_time: time | None, tz_name: str) -> tuple[datetime | None, bool]:
    """(due_at in UTC, all day?) from a local date and optional time in the user's zone."""
    if due_date is None:
        return None, False
    if due_time is None:
        return local_to_utc(due_date, END_OF_DAY, tz_name), True
    return local_to_utc(due_date, due_time, tz_name), False


def local_due_parts(task: Task, tz_name: str) -> tuple[date | None, time | None]:
    """The task's due date and time (None when all day) as the user sees them."""
    if task.due_at is None:
        return None, None
    local = to_local(task.due_at, tz_name)
    return local.date(), None if task.due_all_day else local.time().replace(second=0, microsecond=0)


def create_task(
    user: User,
    title: str,
    project: Project | None = None,
    *,
    due_at: datetime | None = None,
    due_all_day: bool = False,
    tags: Sequence[str] = (),
    priority: Priority = Priority.NORMAL,
) -> Task:
    task = Task(
        owner_id=user.id,
        project=project or ensure_inbox(user),
        title=title,
        notes="",
        due_at=due_at,
        due_all_day=due_all_day,
        priority=int(priority),
        tags=_tags_for(user, list(tags)),
    )
    db.session.add(task)
    tasks_changed(user.id)
    db.session.commit()
    return task


def _set_status(task: Task, status: Status) -> None:
    """Completing a task stamps completed_at and cancels its pending reminders."""
    if status == Status.DONE and task.status != Status.DONE:
        task.completed_at = now_utc()
        cancel_task_reminders(task)
    elif status != Status.DONE:
        task.completed_at = None
    task.status = status.value


def update_task(user: User, task: Task, changes: TaskChanges) -> Task:
    task.title = changes.title
    task.notes = changes.notes
    task.priority = int(changes.priority)
    task.project = changes.project
    previous_due = task.due_at
    task.due_at, task.due_all_day = due_instant(changes.due_date, changes.due_time, user.timezone)
    if previous_due and task.due_at:
        shift_task_reminders(task, task.due_at - previous_due)
    if task.due_at != previous_due:
        task.overdue_reminded_on = None
    task.tags = _tags_for(user, changes.tags)
    _set_status(task, changes.status)
    tasks_changed(task.owner_id)
    db.session.commit()
    return task


def toggle_done(task: Task) -> Task:
    """Done -> to do (completed_at cleared); anything else -> done (completed_at set)."""
    _set_status(task, Status.TODO if task.done else Status.DONE)
    tasks_changed(task.owner_id)
    db.session.commit()
    return task


def move_task(task: Task, project: Project) -> Task:
    if project.archived:
        raise ProjectConflict(f"“{project.name}” is archived. Unarchive it before moving tasks into it.")
    task.project = project
    tasks_changed(task.owner_id)
    db.session.commit()
    return task


def delete_task(task: Task) -> Task:
    """Soft delete: the task disappears from lists until restored ("Undo"); its pending reminders
    are set aside with it and never sent while it is deleted."""
    task.deleted_at = task.deleted_at or now_utc()
    set_aside_task_reminders(task)
    tasks_changed(task.owner_id)
    db.session.commit()
    return task


def restore_task(task: Task, now: datetime | None = None) -> Task:
    """Undo a delete: the task is back, with those of its reminders still in the future."""
    task.deleted_at = None
    bring_back_task_reminders(task, now)
    tasks_changed(task.owner_id)
    db.session.commit()
    return task


def deleted_task(user: User, task_id: int) -> Task | None:
    """One of the user's deleted tasks (offered for "Undo"), or None."""
    return db.session.scalar(
        visible_tasks(user, include_deleted=True).where(Task.id == task_id, Task.deleted_at.is_not(None))
    )


@dataclass(frozen=True)
class TrashedTask:
    id: int
    title: str
    project_name: str
    deleted_at: datetime
    days_left: int


@dataclass(frozen=True)
class Trash:
    tasks: list[TrashedTask]
    total: int

    @property
    def more(self) -> int:
        """How many older tasks are in the trash beyond those listed."""
        return self.total - len(self.tasks)


def _in_trash(user: User, now: datetime):
    """The user's deleted tasks still kept (ix_tasks_owner_trash: owner_id, deleted_at)."""
    return visible_tasks(user, include_deleted=True).where(
        Task.deleted_at.is_not(None), Task.deleted_at >= now - KEEP_DELETED_TASKS
    )


def days_left(deleted_at: datetime, now: datetime) -> int:
    """Whole days (rounded up) before the purge job removes a task deleted at `deleted_at`."""
    remaining = deleted_at + KEEP_DELETED_TASKS - now
    return max(1, math.ceil(remaining.total_seconds() / 86400))


def trash_of(user: User, now: datetime | None = None) -> Trash:
    """The user's deleted tasks of the last KEEP_DELETED_TASKS, most recently deleted first."""
    now = now or now_utc()
    rows = db.session.execute(
        _in_trash(user, now)
        .with_only_columns(Task.id, Task.title, Project.name, Task.deleted_at)
        .join(Project, Project.id == Task.project_id)
        .order_by(Task.deleted_at.desc(), Task.id.desc())
        .limit(TRASH_PAGE_SIZE)
    ).all()
    tasks = [TrashedTask(id_, title, project, at, days_left(at, now)) for id_, title, project, at in rows]
    total = len(tasks)
    if total == TRASH_PAGE_SIZE:
        total = db.session.scalar(_in_trash(user, now).with_only_columns(func.count())) or 0
    return Trash(tasks, total)


def trashed_task_or_none(user: User, task_id: int, now: datetime | None = None) -> Task | None:
    """One of the user's tasks in the trash (another user's id, or a live task, is None)."""
    return db.session.scalar(_in_trash(user, now or now_utc()).where(Task.id == task_id))


def delete_forever(task: Task) -> None:
    """Remove a task from the trash for good (its tags links and reminders go with it)."""
    owner_id = task.owner_id
    db.session.delete(task)
    tasks_changed(owner_id)
    db.session.commit()


def empty_trash(user: User) -> int:
    """Remove every task in the user's trash for good; how many were removed."""
    removed = db.session.execute(
        delete(Task).where(Task.owner_id == user.id, Task.deleted_at.is_not(None))
    ).rowcount
    tasks_changed(user.id)
    db.session.commit()
    return removed


def purge_expired_tasks(now: datetime) -> int:
    """Remove tasks deleted more than KEEP_DELETED_TASKS ago, everyone's (the purge job; the
    caller commits)."""
    return db.session.execute(delete(Task).where(Task.deleted_at < now - KEEP_DELETED_TASKS)).rowcount


def tag_names(user: User) -> list[str]:
    """The user's tags, for the tag filter."""
    return list(
        db.session.scalars(select(Tag.name).where(Tag.owner_id == user.id).order_by(Tag.name).limit(500))
    )
