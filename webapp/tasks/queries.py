"""Task lists: filters, sort orders, search (substrings, word starts, tags) and keyset pagination.

Every list starts from access.visible_tasks(user). Each sort order walks one of the partial
indexes on (owner_id, value, id) with a row-value comparison, never OFFSET:

- due: (due_at, id) ascending over tasks with a due date, then tasks without one by id
  (a two-phase cursor), so both phases use ix_tasks_owner_due without a NULLS LAST expression;
- priority: (priority, id) descending (after a cursor: the rest of its priority, then the lower ones);
- created: (created_at, id) descending.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, bindparam, func, literal, literal_column, select, text, tuple_

from ..access import visible_tasks
from ..extensions import db
from ..models import MAX_ID, TASK_NOT_DONE, Priority, Project, Status, Tag, Task, User, UTCDateTime, task_tags
from ..replica import reading
from ..timezones import local_day_bounds, local_today, now_utc, on_the_calendar

SORTS = {"due": "Due date", "priority": "Priority", "created": "Newest"}
DUE_FILTERS = {
    "overdue": "Overdue",
    "today": "Due today",
    "tomorrow": "Due tomorrow",
    "week": "Due this week",
    "next7": "Due in the next 7 days",
    "none": "No due date",
}
# "open" is every status except done: what the dashboard's "due today" counts.
STATUS_FILTERS = {"open": "Not done", **{status.value: status.label for status in Status}}
_WORD = re.compile(r"[^\W_]+")


class BadListRequest(ValueError):
    """A filter, sort or cursor in the query string that we cannot use (answered with 400)."""


@dataclass(frozen=True)
class TaskFilters:
    status: str | None = None
    tag: str | None = None
    project_id: int | None = None
    due: str | None = None
    q: str = ""
    sort: str = "due"
    completed: bool = False  # done tasks are hidden unless asked for (or a status filter names them)

    @classmethod
    def from_args(cls, args, *, project_id: int | None = None) -> TaskFilters:
        """Read filters from query args; empty values mean "any". Unknown values raise."""
        status = args.get("status") or None
        if status is not None and status not in STATUS_FILTERS:
            raise BadListRequest("Unknown status filter.")
        due = args.get("due") or None
        if due is not None and due not in DUE_FILTERS:
            raise BadListRequest("Unknown due-date filter.")
        sort = args.get("sort") or "due"
        if sort not in SORTS:
            raise BadListRequest("Unknown sort order.")
        if project_id is None and args.get("project"):
            project_id = parse_id(args["project"])
            if project_id is None:
                raise BadListRequest("Unknown project.")
        tag = (args.get("tag") or "").strip().lower() or None
        q = (args.get("q") or "").strip()[:200]
        completed = args.get("completed") == "1"
        return cls(status, tag, project_id, due, q, sort, completed)

    def as_args(self, *, include_project: bool = True) -> dict[str, str | int]:
        """The non-default filters as query args (for links that keep the current list)."""
        args: dict[str, str | int] = {}
        for name in ("status", "tag", "due", "q"):
            if getattr(self, name):
                args[name] = getattr(self, name)
        if include_project and self.project_id is not None:
            args["project"] = self.project_id
        if self.sort != "due":
            args["sort"] = self.sort
        if self.completed:
            args["completed"] = 1
        return args

    @property
    def active(self) -> bool:
        chosen = (self.status, self.tag, self.due, self.q, self.completed)
        return any(chosen) or self.project_id is not None

    @property
    def chosen_beyond_search(self) -> bool:
        """A choice other than the search words or the project: the list shows its filters unfolded."""
        return bool(self.status or self.tag or self.due or self.completed) or self.sort != "due"


_SHOWN = re.compile(r"[1-9][0-9]{0,8}")


def rows_to_show(raw: str | None, page_size: int, most: int) -> int:
    """How many rows a list shows from its top: `shown`, which "load more" keeps in the URL so that
    a reload or Back shows the rows the user had loaded; at least a page, at most `most`."""
    if not raw:
        return page_size
    if not _SHOWN.fullmatch(raw):
        raise BadListRequest("The number of tasks to show must be a whole number from 1.")
    return max(page_size, min(int(raw), most))


@dataclass(frozen=True, slots=True)
class TaskRow:
    """What a task list shows of a task, read as plain values: a list page builds no ORM objects."""

    id: int
    title: str
    status: str
    priority: int
    due_at: datetime | None
    due_all_day: bool
    created_at: datetime
    project_id: int
    project_name: str
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, task: Task) -> TaskRow:
        """The row of one task already loaded (the row answered after a change)."""
        return cls(
            task.id,
            task.title,
            task.status,
            task.priority,
            task.due_at,
            task.due_all_day,
            task.created_at,
            task.project_id,
            task.project.name,
            tuple(tag.name for tag in task.tags),
        )


# The columns of TaskRow before its tags, in its order.
ROW_COLUMNS = (
    Task.id,
    Task.title,
    Task.status,
    Task.priority,
    Task.due_at,
    Task.due_all_day,
    Task.created_at,
    Task.project_id,
    Project.name,
)


@dataclass
class TaskPage:
    rows: list[TaskRow] = field(default_factory=list)
    next_cursor: str | None = None


def parse_id(raw: str | None) -> int | None:
    """A positive database id from a string, or None (never an int the database would reject)."""
    if raw is None or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


# --- cursors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after (value, id) in the given sort (phase 2 = no due date)."""

    sort: str
    id: int
    value: datetime | int | None = None
    phase: int = 1


def encode_cursor(cursor: Cursor) -> str:
    value = cursor.value.isoformat() if isinstance(cursor.value, datetime) else cursor.value
    data = {"s": cursor.sort, "p": cursor.phase, "v": value, "i": cursor.id}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BROKEN_CURSOR = "That “load more” link is broken. Please reload the list."
# Ours are under 120 characters. A longer one is refused unread: JSON nested 1,200 deep exhausted
# the parser's stack (RecursionError); in 200 characters it nests too shallow to.
MAX_CURSOR_LENGTH = 200


def decode_cursor(raw: str, sort: str) -> Cursor:
    """Parse a cursor from the query string; anything unexpected is a BadListRequest."""
    if len(raw) > MAX_CURSOR_LENGTH:
        raise BadListRequest(BROKEN_CURSOR)
    try:
        padded = raw + "=" * (-len(raw) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise BadListRequest(BROKEN_CURSOR) from error
    if not isinstance(data, dict) or data.get("s") != sort:
        raise BadListRequest("That “load more” link belongs to another sort order. Please reload the list.")
    task_id, phase, value = data.get("i"), data.get("p"), data.get("v")
    if type(task_id) is not int or not 0 < task_id <= MAX_ID or phase not in (1, 2):
        raise BadListRequest(BROKEN_CURSOR)
    try:
        if sort == "priority" and phase == 1 and type(value) is int and value in set(Priority):
            return Cursor(sort, task_id, value)
        if sort in ("due", "created") and phase == 1 and isinstance(value, str):
            moment = _aware(datetime.fromisoformat(value))
            if on_the_calendar(moment):
                return Cursor(sort, task_id, moment)
        if sort == "due" and phase == 2 and value is None:
            return Cursor(sort, task_id, None, phase=2)
    except (ValueError, OverflowError):
        pass
    raise BadListRequest(BROKEN_CURSOR)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a cursor time must carry its zone")
    return moment.astimezone(UTC)


# --- filters -------------------------------------------------------------------------------


def week_bounds(user: User, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of the user's current local week, in UTC."""
    today = local_today(user.timezone, now)
    monday = today - timedelta(days=today.weekday())
    start = local_day_bounds(monday, user.timezone)[0]
    end = local_day_bounds(monday + timedelta(days=7), user.timezone)[0]
    return start, end


def day_bounds(user: User, now: datetime | None = None, *, days_ahead: int = 0) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of the user's local today (or `days_ahead` days later), in UTC."""
    return local_day_bounds(local_today(user.timezone, now) + timedelta(days=days_ahead), user.timezone)


MAX_SEARCH_TERMS = 10
# Trigrams need three characters: shorter terms match the start of a word instead.
SUBSTRING_MIN_LENGTH = 3


@dataclass(frozen=True)
class SearchTerms:
    """What the search box asked for: every term must match (AND).

    - `@word`: a task tagged exactly `word` (tags only, never the title);
    - a word of 3 characters or more: that text anywhere in the title or notes ("port" finds
      "passport"); punctuation separates words ("-milk" is "milk");
    - a word of 1 or 2 letters: the start of a word ("re" finds "report" but not "bread")."""

    substrings: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def parse(cls, q: str) -> SearchTerms:
        substrings: list[str] = []
        prefixes: list[str] = []
        tags: list[str] = []
        for term in q.split()[:MAX_SEARCH_TERMS]:
            if term.startswith("@") and term[1:]:
                tags.append(term[1:].lower())
                continue
            for word in _WORD.findall(term):  # punctuation separates words: "-milk" is "milk"
                (substrings if len(word) >= SUBSTRING_MIN_LENGTH else prefixes).append(word.lower())
        return cls(tuple(substrings), tuple(prefixes), tuple(tags))


def _pg_search_text():
    """title || ' ' || notes: exactly the expression of ix_tasks_search and ix_tasks_trigram (see
    the migrations), so their GIN indexes apply."""
    return Task.title.op("||")(literal_column("' '")).op("||")(Task.notes)


def tagged_with(owner_id: int, name: str):
    """The ids of the owner's tasks that carry the tag `name`."""
    return (
        select(task_tags.c.task_id)
        .join(Tag, Tag.id == task_tags.c.tag_id)
        .where(Tag.owner_id == owner_id, Tag.name == name)
    )


def search_conditions(q: str, owner_id: int) -> list:
    """The conditions the search box `q` puts on the owner's tasks (none for an empty box)."""
    terms = SearchTerms.parse(q)
    conditions = [Task.id.in_(tagged_with(owner_id, name)) for name in terms.tags]
    if db.engine.dialect.name == "postgresql":
        # Words are letters and digits only: nothing in them means anything to LIKE or FTS5.
        conditions += [_pg_search_text().ilike(f"%{term}%") for term in terms.substrings]
        if terms.prefixes:
            vector = func.to_tsvector(literal_column("'simple'"), _pg_search_text())
            query = " & ".join(f"{word}:*" for word in terms.prefixes)
            conditions.append(vector.op("@@")(func.to_tsquery(literal_column("'simple'"), literal(query))))
        return conditions
    if terms.substrings:
        match = " AND ".join(f'"{term}"' for term in terms.substrings)
        found = text("SELECT rowid FROM tasks_trigram WHERE tasks_trigram MATCH :trigram_query")
        conditions.append(Task.id.in_(found.bindparams(trigram_query=match)))
    if terms.prefixes:
        match = " ".join(f'"{word}"*' for word in terms.prefixes)
        found = text("SELECT rowid FROM tasks_fts WHERE tasks_fts MATCH :fts_query")
        conditions.append(Task.id.in_(found.bindparams(fts_query=match)))
    return conditions


def filtered_tasks(user: User, filters: TaskFilters, now: datetime | None = None) -> Select[tuple[Task]]:
    """The user's live tasks matching the filters, unordered."""
    now = now or now_utc()
    query = visible_tasks(user)
    if filters.status == "open" or (filters.status is None and not filters.completed):
        query = query.where(TASK_NOT_DONE)
    elif filters.status:
        query = query.where(Task.status == filters.status)
    if filters.project_id is not None:
        query = query.where(Task.project_id == filters.project_id)
    if filters.tag:
        query = query.where(Task.id.in_(tagged_with(user.id, filters.tag)))
    if filters.due == "overdue":
        query = query.where(Task.due_at < now, TASK_NOT_DONE)
    elif filters.due in ("today", "tomorrow"):
        start, end = day_bounds(user, now, days_ahead=1 if filters.due == "tomorrow" else 0)
        query = query.where(Task.due_at >= start, Task.due_at < end)
    elif filters.due == "week":
        start, end = week_bounds(user, now)
        query = query.where(Task.due_at >= start, Task.due_at < end)
    elif filters.due == "next7":
        start, end = day_bounds(user, now)[0], day_bounds(user, now, days_ahead=6)[1]
        query = query.where(Task.due_at >= start, Task.due_at < end)
    elif filters.due == "none":
        query = query.where(Task.due_at.is_(None))
    if filters.q:
        query = query.where(*search_conditions(filters.q, user.id))
    return query


def task_rows(query: Select[tuple[Task]]) -> list[TaskRow]:
    """The tasks `query` selects, with their project's name and their tags: two queries for the
    whole page (tasks joined to projects, then the tags of those tasks), no N+1."""
    found = db.session.execute(
        query.with_only_columns(*ROW_COLUMNS).join(Project, Project.id == Task.project_id)
    ).all()
    tags = tags_of([row[0] for row in found])
    return [TaskRow(*row, tags.get(row[0], ())) for row in found]


# Built once: the same statement for every page (only the ids change).
TAGS_OF_TASKS = (
    select(task_tags.c.task_id, Tag.name)
    .join(Tag, Tag.id == task_tags.c.tag_id)
    .where(task_tags.c.task_id.in_(bindparam("task_ids", expanding=True)))
    .order_by(Tag.name)
)


def tags_of(task_ids: Sequence[int]) -> dict[int, tuple[str, ...]]:
    """The names of each task's tags, in alphabetical order (tasks without tags are left out)."""
    if not task_ids:
        return {}
    pairs = db.session.execute(TAGS_OF_TASKS, {"task_ids": task_ids})
    names: defaultdict[int, list[str]] = defaultdict(list)
    for task_id, name in pairs:
        names[task_id].append(name)
    return {task_id: tuple(task_names) for task_id, task_names in names.items()}


def page_queries(
    user: User, filters: TaskFilters, cursor: Cursor | None, now: datetime | None = None
) -> list[Select[tuple[Task]]]:
    """The one or two ordered queries that together continue the list after `cursor`."""
    base = filtered_tasks(user, filters, now)
    if filters.sort == "priority":
        by_priority = base.order_by(Task.priority.desc(), Task.id.desc())
        if cursor is None:
            return [by_priority]
        # The rest of the cursor's priority, then the lower ones: two exact index ranges. With one
        # row-value comparison SQLite seeks on the priority alone and steps over the tasks of that
        # priority already shown (a quarter of a long list: a page 100,000 rows down took 3 times as long).
        rest_of_priority = base.where(Task.priority == cursor.value, Task.id < cursor.id)
        return [rest_of_priority.order_by(Task.id.desc()), by_priority.where(Task.priority < cursor.value)]
    if filters.sort == "created":
        query = base.order_by(Task.created_at.desc(), Task.id.desc())
        if cursor:
            after = tuple_(literal(cursor.value, UTCDateTime), literal(cursor.id))
            query = query.where(tuple_(Task.created_at, Task.id) < after)
        return [query]
    queries = []
    if cursor is None or cursor.phase == 1:
        dated = base.where(Task.due_at.is_not(None)).order_by(Task.due_at, Task.id)
        if cursor:
            after = tuple_(literal(cursor.value, UTCDateTime), literal(cursor.id))
            dated = dated.where(tuple_(Task.due_at, Task.id) > after)
        queries.append(dated)
    if filters.due in (None, "none"):
        undated = base.where(Task.due_at.is_(None)).order_by(Task.id)
        if cursor and cursor.phase == 2:
            undated = undated.where(Task.id > cursor.id)
        queries.append(undated)
    return queries


def cursor_after(row: TaskRow, sort: str) -> Cursor:
    """Where a page that ends with `row` continues."""
    if sort == "priority":
        return Cursor(sort, row.id, row.priority)
    if sort == "created":
        return Cursor(sort, row.id, row.created_at)
    if row.due_at is None:
        return Cursor(sort, row.id, None, phase=2)
    return Cursor(sort, row.id, row.due_at)


def task_page(
    user: User,
    filters: TaskFilters,
    cursor: str | None = None,
    *,
    page_size: int,
    now: datetime | None = None,
) -> TaskPage:
    """One page of the list and the cursor of the next page (None on the last page)."""
    after = decode_cursor(cursor, filters.sort) if cursor else None
    rows: list[TaskRow] = []
    with reading(user):  # may be a moment behind, except for what the user wrote
        for query in page_queries(user, filters, after, now):
            rows.extend(task_rows(query.limit(page_size + 1 - len(rows))))
            if len(rows) > page_size:
                break
    if len(rows) <= page_size:
        return TaskPage(rows)
    shown = rows[:page_size]
    return TaskPage(shown, encode_cursor(cursor_after(shown[-1], filters.sort)))


def first_tasks(user: User, filters: TaskFilters, limit: int, now: datetime | None = None) -> list[TaskRow]:
    """The first few tasks of a list (the dashboard's short lists)."""
    return task_page(user, filters, page_size=limit, now=now).rows
