"""The trash: the tasks a user deleted in the last 30 days, to restore or delete for good.
Each view answers a whole page, or for htmx the part it changes."""

from __future__ import annotations

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user, login_required

from ..models import MAX_ID, Task
from ..responses import render, see_other, wants_fragment
from ..tasks import services

bp = Blueprint("trash", __name__)
TRASHED = f"/trash/<int(max={MAX_ID}):task_id>"


def _trashed_or_404(task_id: int) -> Task:
    task = services.trashed_task_or_none(current_user, task_id)
    if task is None:
        abort(404)
    return task


def _back() -> str:
    return url_for("trash.index")


def _trash_page(message: str | None = None):
    """The trash page, or for htmx the trash alone (its count, list and `message`)."""
    return render(
        "trash/index.html",
        "trash/_trash.html",
        trash=services.trash_of(current_user),
        keep_days=services.KEEP_DELETED_TASKS.days,
        message=message,
        back=_back(),
    )


@bp.get("/trash")
@login_required
def index():
    return _trash_page()


def _gone_from_trash(message: str):
    """htmx swaps in the trash as it is now, saying what happened; a plain form goes back to the
    trash, with the message."""
    if wants_fragment():
        return _trash_page(message)
    flash(message, "success")
    return see_other(_back())


@bp.post(TRASHED + "/restore")
@login_required
def restore(task_id: int):
    task = services.restore_task(_trashed_or_404(task_id))
    return _gone_from_trash(f"Restored “{task.title}” to {task.project.name}.")


@bp.post(TRASHED + "/delete")
@login_required
def delete_forever(task_id: int):
    task = _trashed_or_404(task_id)
    title = task.title
    services.delete_forever(task)
    return _gone_from_trash(f"Deleted “{title}” forever.")


@bp.get("/trash/empty")
@login_required
def confirm_empty():
    return render(
        "trash/empty.html", "trash/_empty_confirm.html", trash=services.trash_of(current_user), back=_back()
    )


@bp.post("/trash/empty")
@login_required
def empty():
    removed = services.empty_trash(current_user)
    message = f"Deleted {removed} {'task' if removed == 1 else 'tasks'} forever. The trash is empty."
    return _gone_from_trash(message)
