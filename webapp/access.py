"""The one place that decides which projects and tasks a user may see or change.

Every read or write of a task or project starts from these selects, so another user's id is a
404 by construction. Sharing a project later means widening these two functions (e.g. adding
`OR project_id IN (projects shared with the user)`), not touching every query.
"""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select, select

from .extensions import db
from .models import Project, Task, User
from .reminders.models import Reminder


def visible_projects(user: User) -> Select[tuple[Project]]:
    return select(Project).where(Project.owner_id == user.id)


def visible_tasks(user: User, *, include_deleted: bool = False) -> Select[tuple[Task]]:
    query = select(Task).where(Task.owner_id == user.id)
    if not include_deleted:
        query = query.where(Task.deleted_at.is_(None))
    return query


def visible_reminders(user: User) -> Select[tuple[Reminder]]:
    """Reminders belong to tasks: a user sees the reminders of the tasks they may see."""
    task_ids = visible_tasks(user).with_only_columns(Task.id)
    return select(Reminder).where(Reminder.task_id.in_(task_ids))


def project_or_404(user: User, project_id: int) -> Project:
    project = db.session.scalar(visible_projects(user).where(Project.id == project_id))
    if project is None:
        abort(404)
    return project


def task_or_404(user: User, task_id: int, *, include_deleted: bool = False) -> Task:
    task = db.session.scalar(visible_tasks(user, include_deleted=include_deleted).where(Task.id == task_id))
    if task is None:
        abort(404)
    return task
