"""The task list page, shared by every view that shows one (all tasks, a project, the Inbox):
the rows of the asked-for page under the filters in the query string, and around them the
forms and choices of the full page. Views call `render_task_list`; no view calls another's."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, request, session, url_for
from flask_login import current_user

from ..models import Project
from ..projects.forms import ProjectForm
from ..projects.services import projects_of
from ..responses import render, wants_fragment
from . import services
from .forms import NewTaskForm
from .queries import (
    DUE_FILTERS,
    SORTS,
    STATUS_FILTERS,
    BadListRequest,
    TaskFilters,
    TaskPage,
    rows_to_show,
    task_page,
)

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
    page_size, most = current_app.config["PAGE_SIZE"], current_app.config["MAX_SHOWN_ROWS"]
    cursor = request.args.get("cursor")
    try:
        filters = TaskFilters.from_args(request.args, project_id=project.id if project else None)
        shown = rows_to_show(request.args.get("shown"), page_size, most)
        page = task_page(current_user, filters, cursor, page_size=page_size if cursor else shown)
    except BadListRequest as error:
        abort(400, str(error))
    if not cursor:
        shown = len(page.rows)
    list_args = {**(request.view_args or {}), **filters.as_args(include_project=project is None)}
    list_url = url_for(request.endpoint, **list_args, **({"shown": shown} if shown > page_size else {}))
    rows = {
        "rows": page.rows,
        "load_more": _load_more(page, list_args, shown, page_size, most),
        "filters": filters,
        "back": list_url,
    }
    if wants_fragment():
        return render("tasks/_rows.html", status=status, **rows)
    return render(
        "projects/show.html" if project else "tasks/list.html",
        status=status,
        **rows,
        **_page_context(project, new_form, rename_form),
    )


@dataclass(frozen=True)
class LoadMore:
    """The "load more" link under a list showing `shown` rows. Without JavaScript it opens the list
    with the next page's rows too, at the last row seen; htmx fetches only the next page and puts
    the longer list's URL in place of the current one, so that reload and Back show those rows."""

    href: str
    fetch: str
    replace_url: str | None  # None past MAX_SHOWN_ROWS: the URL stays as it is


def _load_more(page: TaskPage, list_args: dict, shown: int, page_size: int, most: int) -> LoadMore | None:
    if page.next_cursor is None:
        return None
    more = shown + page_size
    fetch = url_for(request.endpoint, **list_args, cursor=page.next_cursor, shown=min(more, most))
    if more > most:  # the next page on its own, as far as a URL may show rows from the top
        return LoadMore(url_for(request.endpoint, **list_args, cursor=page.next_cursor), fetch, None)
    longer = url_for(request.endpoint, **list_args, shown=more)
    return LoadMore(f"{longer}#t{page.rows[-1].id}", fetch, longer)


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
