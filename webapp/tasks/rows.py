"""The links of task rows. A list page shows 50 rows of six links or more each, and url_for costs
tens of microseconds (it was a fifth of the page's time): each kind of link is built by url_for
once per request, then completed per row."""

from __future__ import annotations

from collections.abc import Callable

from flask import g, url_for

from ..models import MAX_ID

SLOT = str(MAX_ID)  # the id url_for builds with, replaced by each row's own


def _per_id(endpoint: str, id_name: str, **values) -> Callable[[int], str]:
    before, after = url_for(endpoint, **{id_name: MAX_ID}, **values).split(SLOT, 1)
    return lambda id_: f"{before}{id_}{after}"


class TaskLinks:
    """What a task row links to, for rows whose forms return to `back`."""

    def __init__(self, back: str | None) -> None:
        self.show = _per_id("tasks.show", "task_id")
        # The edit page returns to `back`, or to the task list when the link does not say.
        default_back = url_for("tasks.index")
        self.edit = _per_id("tasks.edit", "task_id", next=back if back != default_back else None)
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
