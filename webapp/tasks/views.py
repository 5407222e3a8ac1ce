"""Task pages: the list (filters, search, load more), quick add, edit, done, move, delete, undo."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, flash, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from ..access import project_or_404, task_or_404
from ..cache import cached_view
from ..models import MAX_ID, Priority, Project, Task
from ..projects.forms import ProjectForm
from ..projects.services import ProjectConflict, assignable_projects, projects_of
from ..reminders.views import reminders_section
from ..responses import render, safe_back, see_other, wants_fragment
from . import services
from .forms import NewTaskForm, TaskForm
from .queries import (
    DUE_FILTERS,
    SORTS,
    STATUS_FILTERS,
    BadListRequest,
    TaskFilters,
    TaskPage,
    parse_id,
    rows_to_show,
    task_page,
)
from .quick_add import keep_as_text
from .rows import shown_tasks_for_viewer, task_links

bp = Blueprint("tasks", __name__)
bp.add_app_template_global(task_links)
bp.add_app_template_global(shown_tasks_for_viewer, "shown_tasks")
TASK = f"/tasks/<int(max={MAX_ID}):task_id>"
UNDO_KEY = "undo_task_id"


def render_task_list(
    project: Project | None = None,
    *,
    new_form: NewTaskForm | None = None,
    rename_form=None,
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
        **_list_page_context(project, new_form, rename_form),
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


def _list_page_context(project: Project | None, new_form: NewTaskForm | None, rename_form) -> dict:
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


def _row(task: Task, *, status: int = 200):
    return render("tasks/show.html", "tasks/_row.html", status=status, task=task, back=safe_back())


def _from_project() -> Project | None:
    """The project page the quick-add form was on, if any (its list is re-rendered on errors)."""
    raw = request.form.get("from_project")
    return project_or_404(current_user, parse_id(raw) or 0) if raw else None


@bp.get("/tasks")
@login_required
@cached_view("task_list")
def index():
    return render_task_list()


@bp.post("/tasks")
@login_required
def create():
    form = _new_task_form()
    from_project = _from_project()
    if not form.validate_on_submit():
        if wants_fragment():
            response = render("tasks/_new_form.html", status=422, new_form=form, project=from_project)
            response.headers["HX-Retarget"] = "#new-task"
            response.headers["HX-Reswap"] = "outerHTML"
            return response
        return render_task_list(from_project, new_form=form, status=422)
    understood = form.understood
    task = services.create_task(
        current_user,
        understood.title,
        form.project,
        due_at=understood.due_at,
        due_all_day=understood.due_all_day,
        tags=understood.tags,
        priority=understood.priority or Priority.NORMAL,
    )
    if wants_fragment():
        return render("tasks/_row.html", status=201, task=task, back=safe_back())
    flash(f"Added “{task.title}”.", "success")
    return see_other(safe_back())


@bp.get("/tasks/quick-add")
@login_required
def quick_add_preview():
    """What the quick-add line says, before it is saved; `keep` (a part's start) turns that part
    back into title text, and answers the line itself with the field."""
    form = _read_quick_add(request.args)
    kept = form.part_at(request.args.get("keep", type=int))
    if kept is None:
        return render("tasks/quick_add.html", "tasks/_quick_add_preview.html", new_form=form)
    form = _read_quick_add(MultiDict({"title": keep_as_text(form.title.data, kept)}))
    return render("tasks/quick_add.html", "tasks/_quick_add_line.html", new_form=form, autofocus=True)


def _read_quick_add(line: MultiDict) -> NewTaskForm:
    form = _new_task_form(formdata=line, meta={"csrf": False})
    form.validate()
    return form


def _new_task_form(**kwargs) -> NewTaskForm:
    form = NewTaskForm(**kwargs)
    form.offer_projects(assignable_projects(current_user))
    form.timezone = current_user.timezone
    return form


@bp.get(TASK)
@login_required
def show(task_id: int):
    task = task_or_404(current_user, task_id)
    return render(
        "tasks/show.html",
        "tasks/_row.html",
        task=task,
        back=safe_back(),
        projects=assignable_projects(current_user),
        **reminders_section(task),
    )


def _edit_page(task: Task, form: TaskForm, *, status: int = 200):
    return render(
        "tasks/edit.html",
        "tasks/_edit_row.html",
        status=status,
        task=task,
        form=form,
        back=safe_back(),
        **reminders_section(task),
    )


@bp.get(TASK + "/edit")
@login_required
def edit(task_id: int):
    task = task_or_404(current_user, task_id)
    form = TaskForm.for_task(task, current_user.timezone)
    form.offer_projects(assignable_projects(current_user))
    return _edit_page(task, form)


@bp.post(TASK + "/edit")
@login_required
def update(task_id: int):
    task = task_or_404(current_user, task_id)
    form = TaskForm()
    form.offer_projects(assignable_projects(current_user))
    if not form.validate_on_submit():
        return _edit_page(task, form, status=422)
    services.update_task(current_user, task, form.changes())
    return _row_or_back(task, f"Saved “{task.title}”.")


def _row_or_back(task: Task, message: str):
    """htmx swaps in the updated row; a plain form goes back where it came from, with a message."""
    if wants_fragment():
        return _row(task)
    flash(message, "success")
    return see_other(safe_back())


@bp.post(TASK + "/toggle")
@login_required
def toggle(task_id: int):
    task = services.toggle_done(task_or_404(current_user, task_id))
    if wants_fragment():
        return _row(task)
    # The list hides done tasks: without htmx the page reloads without the row, so say where it went.
    flash(f"“{task.title}” is done." if task.done else f"“{task.title}” is back to do.", "success")
    return see_other(safe_back())


@bp.post(TASK + "/move")
@login_required
def move(task_id: int):
    task = task_or_404(current_user, task_id)
    project = project_or_404(current_user, parse_id(request.form.get("project_id")) or 0)
    try:
        services.move_task(task, project)
    except ProjectConflict as error:
        abort(409, str(error))
    return _row_or_back(task, f"Moved “{task.title}” to {project.name}.")


@bp.post(TASK + "/delete")
@login_required
def delete(task_id: int):
    task = services.delete_task(task_or_404(current_user, task_id))
    if wants_fragment():
        return render("tasks/_deleted_row.html", "tasks/_deleted_row.html", task=task, back=safe_back())
    session[UNDO_KEY] = task.id
    flash(f"Deleted “{task.title}”.", "success")
    return see_other(safe_back())


@bp.post(TASK + "/restore")
@login_required
def restore(task_id: int):
    task = services.restore_task(task_or_404(current_user, task_id, include_deleted=True))
    if wants_fragment():
        return _row(task)
    flash(f"Restored “{task.title}”.", "success")
    return see_other(safe_back())
