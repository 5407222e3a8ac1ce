"""Task rows as a list shows them. A list page shows 50 rows: each row's strings (links, labels,
its due date in the viewer's zone) are built here once, in plain Python, so that the row template
only prints them. In Jinja, every attribute lookup, filter, call and include costs several times
what it costs here, and url_for tens of microseconds: each kind of link is built by url_for once
per request, then completed per row."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from flask import g, url_for
from jinja2 import pass_context
from jinja2.runtime import Context

from ..formatting import due_labeller, template_zone
from ..models import MAX_ID, Priority, Status, Task
from ..timezones import now_utc
from .queries import TaskRow

SLOT = str(MAX_ID)  # the id url_for builds with, replaced by each row's own
STATUS_LABELS = {status.value: status.label for status in Status}
PRIORITY_LABELS = {priority.value: f"{priority.label} priority" for priority in Priority}


def _per_id(endpoint: str, id_name: str, **values) -> Callable[[int], str]:
    before, after = url_for(endpoint, **{id_name: MAX_ID}, **values).split(SLOT, 1)
    return lambda id_: f"{before}{id_}{after}"


class TaskLinks:
    """What a task row links to, for rows whose forms return to `back`."""

    def __init__(self, back: str | None) -> None:
        # The task's page and its edit page return to `back` (filters, rows shown), or to the task
        # list when the link does not say.
        next_ = back if back != url_for("tasks.index") else None
        self.show = _per_id("tasks.show", "task_id", next=next_)
        self.edit = _per_id("tasks.edit", "task_id", next=next_)
        self.toggle = _per_id("tasks.toggle", "task_id")
        self.delete = _per_id("tasks.delete", "task_id")
        self.restore = _per_id("tasks.restore", "task_id")
        self.project = _per_id("projects.show", "project_id")
        self._tags: dict[str, str] = {}

    def tag(self, name: str) -> str:
        if name not in self._tags:
            self._tags[name] = url_for("tasks.index", tag=name)
        return self._tags[name]


def task_links(back: str | None) -> TaskLinks:
    """The row links of this request (built on first use)."""
    built = g.setdefault("task_links", {})
    if back not in built:
        built[back] = TaskLinks(back)
    return built[back]


@dataclass(frozen=True, slots=True)
class ShownTask:
    """Everything one row prints, ready to print."""

    title_id: str  # the id of the title, which names the row's controls (with the shared words)
    title: str
    done: bool
    status: str
    status_label: str
    priority: int
    priority_label: str
    due: str  # "Due Tomorrow 14:00", "Overdue · Mon 2 Mar 2026 09:00", or "" without a due date
    overdue: bool
    project_name: str
    project_url: str
    show_url: str
    edit_url: str
    toggle_url: str
    delete_url: str
    tags: tuple[tuple[str, str], ...]  # (name, the list of that tag)


def shown_tasks(
    tasks: Iterable[TaskRow | Task],
    back: str | None,
    zone: str,
    *,
    id_prefix: str = "",
    now: datetime | None = None,
) -> list[ShownTask]:
    """The rows of `tasks` (list rows, or tasks just changed), their forms returning to `back`.
    `id_prefix` keeps ids unique on a page that lists a task twice (the dashboard)."""
    now = now or now_utc()
    links = task_links(back)
    due_label = due_labeller(zone, now)
    return [
        _shown(task if isinstance(task, TaskRow) else TaskRow.of(task), links, due_label, now, id_prefix)
        for task in tasks
    ]


def _shown(
    row: TaskRow, links: TaskLinks, due_label: Callable[[datetime, bool], str], now: datetime, id_prefix: str
) -> ShownTask:
    done = row.status == Status.DONE
    overdue = row.due_at is not None and not done and row.due_at < now
    due = ""
    if row.due_at is not None:
        due = f"{'Overdue ·' if overdue else 'Due'} {due_label(row.due_at, row.due_all_day)}"
    return ShownTask(
        title_id=f"{id_prefix}t{row.id}",
        title=row.title,
        done=done,
        status=row.status,
        status_label=STATUS_LABELS[row.status],
        priority=row.priority,
        priority_label=PRIORITY_LABELS[row.priority],
        due=due,
        overdue=overdue,
        project_name=row.project_name,
        project_url=links.project(row.project_id),
        show_url=links.show(row.id),
        edit_url=links.edit(row.id),
        toggle_url=links.toggle(row.id),
        delete_url=links.delete(row.id),
        tags=tuple((name, links.tag(name)) for name in row.tags),
    )


@pass_context
def shown_tasks_for_viewer(
    context: Context, tasks: Iterable[TaskRow | Task], back: str | None, id_prefix: str = ""
) -> list[ShownTask]:
    """`shown_tasks` for templates, in the zone of whoever the page is for."""
    return shown_tasks(tasks, back, template_zone(context), id_prefix=id_prefix)
