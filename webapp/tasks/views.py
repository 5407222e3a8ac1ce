"""Task pages: the list (filters, search, load more), quick add, edit, done, move, delete, undo."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, request, session
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from ..access import project_or_404, task_or_404
from ..cache import cached_view
from ..models import MAX_ID, Priority, Project, Task
from ..projects.services import ProjectConflict, assignable_projects
from ..reminders.views import reminders_section
from ..responses import add_triggers, render, safe_back, see_other, wants_fragment
from . import services
from .forms import NewTaskForm, TaskForm
from .list_page import UNDO_KEY, render_task_list
from .queries import parse_id
from .quick_add import keep_as_text
from .rows import shown_tasks_for_viewer, task_links

bp = Blueprint("tasks", __name__)
bp.add_app_template_global(task_links)
bp.add_app_template_global(shown_tasks_for_viewer, "shown_tasks")
TASK = f"/tasks/<int(max={MAX_ID}):task_id>"


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
    return _said(f"Added “{task.title}”.", "tasks/_row.html", status=201, task=task)


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
    """htmx swaps in the updated row; a plain form goes back where it came from; both say `message`."""
    return _said(message, "tasks/_row.html", task=task)


def _said(message: str, fragment: str, *, status: int = 200, **context) -> Response:
    """What a change answers: htmx gets `fragment` and a toast saying what happened; a plain form
    goes back where it came from, with the same words as a message there."""
    if wants_fragment():
        return add_triggers(render(fragment, status=status, back=safe_back(), **context), toast=message)
    flash(message, "success")
    return see_other(safe_back())


@bp.post(TASK + "/toggle")
@login_required
def toggle(task_id: int):
    task = services.toggle_done(task_or_404(current_user, task_id))
    # The list hides done tasks: without htmx the page reloads without the row, so say where it went.
    return _row_or_back(task, f"“{task.title}” is done." if task.done else f"“{task.title}” is back to do.")


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
    if not wants_fragment():
        session[UNDO_KEY] = task.id
    return _said(f"Deleted “{task.title}”.", "tasks/_deleted_row.html", task=task)


@bp.post(TASK + "/restore")
@login_required
def restore(task_id: int):
    task = services.restore_task(task_or_404(current_user, task_id, include_deleted=True))
    return _row_or_back(task, f"Restored “{task.title}”.")
