"""Projects (lists): every user has an Inbox; the rest they create, rename, archive and delete."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..access import visible_projects, visible_tasks
from ..cache import projects_changed
from ..extensions import db
from ..models import Project, Task, User, task_tags
from ..timezones import now_utc

INBOX_NAME = "Inbox"


class ProjectConflict(Exception):
    """A change the project cannot take (a duplicate name, or touching the Inbox): answered with 409."""


def ensure_inbox(user: User) -> Project:
    """The user's Inbox, created on first need (sign-up calls this)."""
    inbox = db.session.scalar(select(Project).where(Project.owner_id == user.id, Project.is_inbox.is_(True)))
    if inbox is None:
        inbox = Project(owner_id=user.id, name=INBOX_NAME, is_inbox=True)
        db.session.add(inbox)
        db.session.flush()
    return inbox


def projects_of(user: User) -> tuple[list[Project], list[Project]]:
    """(active, archived) projects, the Inbox first, then by name."""
    ordered = visible_projects(user).order_by(Project.is_inbox.desc(), func.lower(Project.name), Project.id)
    projects = db.session.scalars(ordered).all()
    if not projects or not projects[0].is_inbox:
        ensure_inbox(user)
        projects = db.session.scalars(ordered).all()
    return [p for p in projects if not p.archived], [p for p in projects if p.archived]


def assignable_projects(user: User) -> list[Project]:
    """Projects a task may be created in or moved to: the user's own, not archived."""
    return projects_of(user)[0]


def open_task_counts(user: User) -> dict[int, int]:
    """Live, not-done tasks per project id, in one aggregate query."""
    rows = db.session.execute(
        visible_tasks(user)
        .with_only_columns(Task.project_id, func.count())
        .where(Task.status != "done")
        .group_by(Task.project_id)
    )
    return {project_id: count for project_id, count in rows}


def task_count(project: Project) -> int:
    """Every task in the project, the deleted ones waiting for "Undo" included."""
    return db.session.scalar(select(func.count()).select_from(Task).where(Task.project_id == project.id)) or 0


def _check_name_free(user: User, name: str, project: Project | None = None) -> None:
    query = visible_projects(user).where(func.lower(Project.name) == name.lower())
    if project is not None:
        query = query.where(Project.id != project.id)
    if db.session.scalar(query) is not None:
        raise ProjectConflict(f"You already have a project called “{name}”. Please choose another name.")


def _check_not_inbox(project: Project, action: str) -> None:
    if project.is_inbox:
        raise ProjectConflict(f"The Inbox cannot be {action}: it is where new tasks land.")


def _commit_name(name: str) -> None:
    """Commit; a project of that name saved meanwhile by another request is still a conflict."""
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        raise ProjectConflict(
            f"You already have a project called “{name}”. Please choose another name."
        ) from error


def create_project(user: User, name: str) -> Project:
    _check_name_free(user, name)
    project = Project(owner_id=user.id, name=name)
    db.session.add(project)
    projects_changed(user.id)
    _commit_name(name)
    return project


def rename_project(user: User, project: Project, name: str) -> Project:
    _check_not_inbox(project, "renamed")
    _check_name_free(user, name, project)
    project.name = name
    projects_changed(user.id)
    _commit_name(name)
    return project


def archive_project(project: Project) -> None:
    _check_not_inbox(project, "archived")
    project.archived_at = project.archived_at or now_utc()
    projects_changed(project.owner_id)
    db.session.commit()


def unarchive_project(project: Project) -> None:
    project.archived_at = None
    projects_changed(project.owner_id)
    db.session.commit()


def delete_project(project: Project) -> None:
    """Delete the project and every task in it (tags stay: they belong to the user)."""
    _check_not_inbox(project, "deleted")
    task_ids = select(Task.id).where(Task.project_id == project.id)
    db.session.execute(delete(task_tags).where(task_tags.c.task_id.in_(task_ids)))
    db.session.execute(delete(Task).where(Task.project_id == project.id))
    db.session.delete(project)
    projects_changed(project.owner_id)
    db.session.commit()
