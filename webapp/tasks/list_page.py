"""The task list page, shared by every view that shows one (all tasks, a project, the Inbox):
the rows of the asked-for page under the filters in the query string, and around them the
forms and choices of the full page. Views call `render_task_list`; no view calls another's."""

from __future__ import annotations

from flask import abort, current_app, request, session, url_for
from flask_login import current_user

from ..models import Project
from ..projects.forms import ProjectForm
from ..projects.services import projects_of
from ..responses import render, wants_fragment
from . import services
from .forms import NewTaskForm
from .queries import DUE_FILTERS, SORTS, STATUS_FILTERS, BadListRequest, TaskFilters, task_page

# The task a plain (no htmx) delete just deleted: the next list page offers "Undo" once.
UNDO_KEY = "undo_task_id"


def render_task_list(
    project: Project | None = None,
    *,
    new_form: NewTaskForm | None = None,
    rename_form: ProjectForm | None = None,
    status: int = 200,
):
    """The task list (optionally one project's), or for htmx only its rows."""
    try:
        filters = TaskFilters.from_args(request.args, project_id=project.id if project else None)
        page = task_page(
            current_user, filters, request.args.get("cursor"), page_size=current_app.config["PAGE_SIZE"]
        )
    except BadListRequest as error:
        abort(400, str(error))
    view_args = request.view_args or {}
    filter_args = filters.as_args(include_project=project is None)
    list_url = url_for(request.endpoint, **view_args, **filter_args)
    next_url = (
        url_for(request.endpoint, **view_args, **filter_args, cursor=page.next_cursor)
        if page.next_cursor
        else None
    )
    rows = {"rows": page.rows, "next_url": next_url, "filters": filters, "back": list_url}
    if wants_fragment():
        return render("tasks/_rows.html", status=status, **rows)
    return render(
        "projects/show.html" if project else "tasks/list.html",
        status=status,
        **rows,
        **_page_context(project, new_form, rename_form),
    )


def _page_context(
    project: Project | None, new_form: NewTaskForm | None, rename_form: ProjectForm | None
) -> dict:
    """What the full list page shows around the rows: forms, filter choices, the undo offer."""
    if new_form is None:
        new_form = NewTaskForm(formdata=None, project_id=project.id if project else None)
    active, archived = projects_of(current_user)
    new_form.offer_projects(active)
    undo_id = session.pop(UNDO_KEY, None) if request.method == "GET" else None
    return {
        "project": project,
        "projects": active + archived,
        "tags": services.tag_names(current_user),
        "new_form": new_form,
        "undo_task": services.deleted_task(current_user, undo_id) if undo_id else None,
        "rename_form": rename_form or (ProjectForm(formdata=None, name=project.name) if project else None),
        "sorts": SORTS,
        "due_filters": DUE_FILTERS,
        "status_filters": STATUS_FILTERS,
    }
