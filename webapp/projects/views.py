"""Project pages: the list of projects, one project's tasks, rename, archive and delete."""

from __future__ import annotations

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user, login_required

from ..access import project_or_404
from ..cache import cached_view
from ..extensions import db, htmx
from ..models import MAX_ID, Project
from ..responses import add_triggers, render, see_other, wants_fragment
from ..tasks.list_page import render_task_list
from . import services
from .forms import ProjectForm

bp = Blueprint("projects", __name__)
PROJECT = f"/projects/<int(max={MAX_ID}):project_id>"


def _index_page(form: ProjectForm | None = None, *, status: int = 200):
    active, archived = services.projects_of(current_user)
    return render(
        "projects/index.html",
        "projects/_lists.html",
        status=status,
        form=form or ProjectForm(formdata=None),
        active=active,
        archived=archived,
        open_counts=services.open_task_counts(current_user),
    )


def _from_header() -> bool:
    """The htmx request came from the header of a project page (rename, archive)."""
    return wants_fragment() and htmx.target == "project-header"


def _project_page(project: Project, form: ProjectForm | None = None, *, status: int = 200):
    """The project page, or for htmx from its header only the header."""
    if _from_header():
        return render(
            "projects/_header.html",
            status=status,
            project=project,
            rename_form=form or ProjectForm(formdata=None, name=project.name),
        )
    return render_task_list(project, rename_form=form, status=status)


@bp.get("/projects")
@login_required
def index():
    return _index_page()


@bp.post("/projects")
@login_required
def create():
    form = ProjectForm()
    if not form.validate_on_submit():
        return _index_page(form, status=422)
    try:
        project = services.create_project(current_user, form.name.data)
    except services.ProjectConflict as error:
        form.name.errors.append(str(error))
        return _index_page(form, status=409)
    if wants_fragment():
        return add_triggers(_index_page(), toast=f"Created the project “{project.name}”.")
    flash(f"Created the project “{project.name}”.", "success")
    return see_other(url_for("projects.show", project_id=project.id))


@bp.get(PROJECT)
@login_required
@cached_view("project_tasks")
def show(project_id: int):
    return render_task_list(project_or_404(current_user, project_id))


@bp.get("/inbox")
@login_required
@cached_view("project_tasks")
def inbox():
    """The Inbox: tasks added without choosing a project."""
    return render_task_list(services.ensure_inbox(current_user))


@bp.post(PROJECT + "/rename")
@login_required
def rename(project_id: int):
    project = project_or_404(current_user, project_id)
    form = ProjectForm()
    if not form.validate_on_submit():
        return _project_page(project, form, status=422)
    try:
        services.rename_project(current_user, project, form.name.data)
    except services.ProjectConflict as error:
        if project.is_inbox:
            abort(409, str(error))
        db.session.refresh(project)
        form.name.errors.append(str(error))
        return _project_page(project, form, status=409)
    if _from_header():
        return add_triggers(_project_page(project), toast=f"Renamed the project to “{project.name}”.")
    flash(f"Renamed the project to “{project.name}”.", "success")
    return see_other(url_for("projects.show", project_id=project.id))


def _after_archive_change(project: Project, message: str):
    if _from_header():
        return add_triggers(_project_page(project), toast=message)
    if wants_fragment():
        return add_triggers(_index_page(), toast=message)
    flash(message, "success")
    return see_other(url_for("projects.index"))


@bp.post(PROJECT + "/archive")
@login_required
def archive(project_id: int):
    project = project_or_404(current_user, project_id)
    try:
        services.archive_project(project)
    except services.ProjectConflict as error:
        abort(409, str(error))
    return _after_archive_change(project, f"Archived “{project.name}”.")


@bp.post(PROJECT + "/unarchive")
@login_required
def unarchive(project_id: int):
    project = project_or_404(current_user, project_id)
    services.unarchive_project(project)
    return _after_archive_change(project, f"“{project.name}” is active again.")


@bp.get(PROJECT + "/delete")
@login_required
def confirm_delete(project_id: int):
    project = project_or_404(current_user, project_id)
    if project.is_inbox:
        abort(409, "The Inbox cannot be deleted: it is where new tasks land.")
    return render("projects/delete.html", project=project, task_count=services.task_count(project))


@bp.post(PROJECT + "/delete")
@login_required
def delete(project_id: int):
    project = project_or_404(current_user, project_id)
    name = project.name
    try:
        services.delete_project(project)
    except services.ProjectConflict as error:
        abort(409, str(error))
    flash(f"Deleted the project “{name}” and its tasks.", "success")
    return see_other(url_for("projects.index"))
