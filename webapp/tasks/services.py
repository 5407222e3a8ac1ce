"""What a user does to a task: create, edit, complete, move, delete and undo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import select

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


def tag_names(user: User) -> list[str]:
    """The user's tags, for the tag filter."""
    return list(
        db.session.scalars(select(Tag.name).where(Tag.owner_id == user.id).order_by(Tag.name).limit(500))
    )
