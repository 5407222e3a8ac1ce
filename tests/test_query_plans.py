"""The hot list queries use an index, checked on the SQL the views really run.

Each case runs the same queries.py function the views call (task_page, and the dashboard's
summary) while recording every statement sent to the database, then asks the database to
explain those statements with their parameters: SQLite with EXPLAIN QUERY PLAN, PostgreSQL with
EXPLAIN (FORMAT JSON) after loading a few thousand tasks for several users and ANALYZE, so the
planner chooses an index because it is cheaper, not because sequential scans are switched off.
"""

from __future__ import annotations

import json
import random
import re
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy import (
    Integer,
    String,
    case,
    cast,
    column,
    event,
    false,
    func,
    insert,
    literal,
    null,
    select,
    text,
    type_coerce,
)

from webapp.admin.models import AuditEntry, DailyStat
from webapp.admin.services import audit_page, user_summary, users_page
from webapp.admin.site_stats import count_site_figures, site_figures
from webapp.dashboard.services import summary
from webapp.extensions import db
from webapp.models import Project, Status, Tag, Task, User, UTCDateTime, task_tags
from webapp.reminders.dispatch import plan_due_tomorrow, plan_overdue
from webapp.reminders.failed import failed_count, failed_page
from webapp.reminders.models import Delivery, Notification
from webapp.reminders.services import notifications_page
from webapp.tasks.queries import TaskFilters, task_page
from webapp.tasks.services import trash_of

NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)
USERS = 5
TASKS_PER_USER = 1200
WORDS = [
    *("milk", "bread", "report", "invoice", "plumber", "passport"),
    *("garden", "meeting", "dentist", "taxes", "email", "slides"),
]


@pytest.fixture
def crowd(app):
    """Five users with 1,200 tasks each: due dates spread over months (a fifth without), every
    status and priority, four projects and six tags each, a few deleted."""
    rng = random.Random(7)
    users = []
    for n in range(USERS):
        user = User(
            email=f"user{n}@example.com", password_hash="x", display_name=f"User {n}", timezone="Asia/Tokyo"
        )
        db.session.add(user)
        db.session.flush()
        projects = [
            Project(owner_id=user.id, name=name, is_inbox=name == "Inbox")
            for name in ("Inbox", "A", "B", "C")
        ]
        tags = [Tag(owner_id=user.id, name=word) for word in WORDS[:6]]
        db.session.add_all(projects + tags)
        db.session.flush()
        rows = []
        for i in range(TASKS_PER_USER):
            status = rng.choice(list(Status))
            rows.append(
                {
                    "owner_id": user.id,
                    "project_id": rng.choice(projects).id,
                    "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {i}",
                    "notes": " ".join(rng.choices(WORDS, k=5)),
                    "status": status.value,
                    "priority": rng.randrange(4),
                    "due_at": None
                    if i % 5 == 0
                    else NOW + timedelta(hours=rng.randrange(-24 * 60, 24 * 120)),
                    "due_all_day": False,
                    "completed_at": NOW - timedelta(hours=rng.randrange(24 * 30))
                    if status == Status.DONE
                    else None,
                    "created_at": NOW - timedelta(minutes=rng.randrange(60 * 24 * 365)),
                    "updated_at": NOW,
                    "deleted_at": NOW if i % 50 == 0 else None,
                }
            )
        # Core's executemany: the ORM's bulk insert of these dicts took 6 times as long on PostgreSQL.
        db.session.execute(insert(Task.__table__), rows)
        task_ids = db.session.scalars(db.select(Task.id).where(Task.owner_id == user.id)).all()
        links = {(task_id, rng.choice(tags).id) for task_id in rng.sample(task_ids, len(task_ids) // 5)}
        db.session.execute(insert(task_tags), [{"task_id": t, "tag_id": g} for t, g in links])
        users.append(user)
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return users[2]


@contextmanager
def recorded_statements():
    """Every (SQL, parameters) sent to the database inside the block."""
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _explain_sqlite(statement: str, parameters) -> list[str]:
    rows = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    return [row[3] for row in rows]


def _pg_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _pg_nodes(child)


def _explain_postgresql(statement: str, parameters) -> list[str]:
    raw = db.session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return [
        f"{node['Node Type']} on {node.get('Relation Name', '')} {node.get('Index Name', '')}"
        f" {node.get('Index Cond', '')}".strip()
        for node in _pg_nodes(plan[0]["Plan"])
    ]


def plans_of(run, table: str = "tasks") -> list[tuple[str, list[str]]]:
    """(SQL, plan lines) of every statement on `table` that `run` sends."""
    with recorded_statements() as seen:
        run()
    explain = _explain_postgresql if db.engine.dialect.name == "postgresql" else _explain_sqlite
    found = [(sql, explain(sql, params)) for sql, params in seen if re.search(rf"\bFROM {table}\b", sql)]
    assert found, f"no query on {table} was recorded"
    return found


def assert_uses_indexes(found: list[tuple[str, list[str]]]) -> None:
    for sql, plan in found:
        if db.engine.dialect.name == "postgresql":
            assert not [line for line in plan if line.startswith("Seq Scan on tasks")], (sql, plan)
            assert any(re.search(r"Index|Bitmap", line) for line in plan), (sql, plan)
        else:
            assert not [line for line in plan if re.match(r"SCAN tasks\b(?! USING)", line)], (sql, plan)
            assert any(
                re.search(r"USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY|VIRTUAL TABLE INDEX", line)
                for line in plan
            ), (sql, plan)


def two_pages(user: User, filters: TaskFilters):
    """What the list view does: the first page, then "load more" with its cursor."""

    def run():
        first = task_page(user, filters, page_size=50, now=NOW)
        if first.next_cursor:
            task_page(user, filters, first.next_cursor, page_size=50, now=NOW)

    return run


CASES = {
    "due date": TaskFilters(sort="due"),
    "priority": TaskFilters(sort="priority"),
    "newest": TaskFilters(sort="created"),
    "overdue": TaskFilters(due="overdue"),
    "due today": TaskFilters(due="today"),
    "due tomorrow": TaskFilters(due="tomorrow"),
    "due this week": TaskFilters(due="week"),
    "no due date": TaskFilters(due="none"),
    "status": TaskFilters(status="in_progress"),
    "status by priority": TaskFilters(status="done", sort="priority"),
    "not done": TaskFilters(status="open"),
    "tag": TaskFilters(tag="milk"),
    "search": TaskFilters(q="plumb"),
    "search two words by newest": TaskFilters(q="milk report", sort="created"),
}


@pytest.mark.parametrize("name", CASES)
def test_task_list_queries_use_an_index(crowd, name):
    assert_uses_indexes(plans_of(two_pages(crowd, CASES[name])))


@pytest.mark.parametrize("sort", ["due", "created", "priority"])
def test_project_list_queries_use_an_index(crowd, sort):
    project = db.session.scalar(db.select(Project).filter_by(owner_id=crowd.id, name="B"))
    found = plans_of(two_pages(crowd, TaskFilters(project_id=project.id, sort=sort)))
    assert_uses_indexes(found)


@pytest.mark.parametrize("sort", ["due", "priority", "created"])
def test_sorted_pages_are_read_in_index_order_without_sorting(crowd, sort):
    """Keyset pages walk the (owner_id, value, id) index: no sort step, however many tasks."""
    found = plans_of(two_pages(crowd, TaskFilters(sort=sort)))
    expected_index = {
        "due": "ix_tasks_owner_due",
        "priority": "ix_tasks_owner_priority",
        "created": "ix_tasks_owner_created",
    }[sort]
    for sql, plan in found:
        assert any(expected_index in line for line in plan), (sql, plan)
        assert not [line for line in plan if "TEMP B-TREE" in line or line.startswith("Sort")], (sql, plan)


def test_a_page_of_the_priority_sort_seeks_to_its_cursor_inside_the_priority(crowd):
    """Not only to the priority: that would step over every task of it already shown."""
    found = plans_of(two_pages(crowd, TaskFilters(sort="priority")))
    seek = r"priority = .*id < " if db.engine.dialect.name == "postgresql" else r"priority=\? AND id<\?"
    assert any(re.search(seek, line) for _, plan in found for line in plan), found


def test_dashboard_counts_use_indexes(crowd):
    assert_uses_indexes(plans_of(lambda: summary(crowd, now=NOW)))


# --- search and the trash at 100,000 tasks ------------------------------------------------------

HUNDRED_THOUSAND = 100_000
COMMON_WORDS = [
    *("milk", "bread", "invoice", "plumber", "garden", "meeting"),
    *("dentist", "taxes", "email", "slides", "laundry", "groceries"),
]


def _numbers(count: int):
    """1..count as a column `i`: generate_series on PostgreSQL, a recursive CTE on SQLite."""
    if db.engine.dialect.name == "postgresql":
        series = func.generate_series(1, count).table_valued(column("i", Integer)).render_derived(name="n")
        return series, series.c.i
    numbers = select(literal(1).label("i")).cte("n", recursive=True)
    numbers = numbers.union_all(select(numbers.c.i + 1).where(numbers.c.i < count))
    return numbers, numbers.c.i


def _minutes_before_now(minutes):
    """NOW minus a number of minutes, in SQL (each task its own creation time)."""
    if db.engine.dialect.name == "postgresql":
        return literal(NOW, UTCDateTime) - func.make_interval(0, 0, 0, 0, 0, minutes)
    stored = NOW.replace(tzinfo=None).isoformat(" ")  # as SQLite keeps UTCDateTime: text
    return type_coerce(
        func.strftime("%Y-%m-%d %H:%M:%S.000000", stored, "-" + cast(minutes, String) + " minutes"),
        UTCDateTime,
    )


@contextmanager
def search_tables_rebuilt_after():
    """SQLite: the search tables' triggers are set aside during the block and the tables rebuilt
    in one go after it (several times faster than a trigger a row), the triggers put back as the
    migrations made them."""
    if db.engine.dialect.name == "postgresql":
        yield
        return
    triggers = db.session.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'tasks'")
    ).all()
    for name, _ in triggers:
        db.session.execute(text(f"DROP TRIGGER {name}"))
    yield
    for _, sql in triggers:
        db.session.execute(text(sql))
    for table in ("tasks_fts", "tasks_trigram"):
        db.session.execute(text(f"INSERT INTO {table}({table}) VALUES ('rebuild')"))


@pytest.fixture
def a_hundred_thousand_tasks(app):
    """100,000 tasks written by one INSERT … SELECT: 60,000 of them Ada's, 10,000 each of four
    others'. Titles are two common words and a number; one in a thousand is Ada's "Renew
    passport" (nothing else contains "port" or a word starting with "re"); one in 250 is Ada's
    tagged "travel"; one in ten is in the trash (half of those for longer than it keeps them)."""
    users = [
        User(email=f"user{n}@example.com", password_hash="x", display_name=f"User {n}", timezone="UTC")
        for n in range(5)
    ]
    db.session.add_all(users)
    db.session.flush()
    inboxes = [Project(owner_id=user.id, name="Inbox", is_inbox=True) for user in users]
    db.session.add_all(inboxes + [Tag(owner_id=user.id, name="travel") for user in users])
    db.session.flush()

    source, i = _numbers(HUNDRED_THOUSAND)
    slot = i % 10  # 0-5: Ada, 6-9: one of the four others
    owner = case(*((slot == 6 + n, users[1 + n].id) for n in range(4)), else_=users[0].id)
    inbox = case(*((slot == 6 + n, inboxes[1 + n].id) for n in range(4)), else_=inboxes[0].id)
    word = {n: literal(w) for n, w in enumerate(COMMON_WORDS)}
    title = case(
        (i % 1000 == 1, literal("Renew passport ")),
        else_=case(word, value=i % 12) + literal(" ") + case(word, value=(i // 12) % 12) + literal(" "),
    ) + cast(i, String)
    status = case({0: literal("todo"), 1: literal("in_progress")}, value=i % 3, else_=literal("done"))
    at = partial(literal, type_=UTCDateTime)
    due = case({0: null(), 1: at(NOW - timedelta(days=2)), 2: at(NOW + timedelta(hours=5))}, value=i % 5)
    deleted = case((i % 20 == 0, at(NOW - timedelta(days=3))), (i % 20 == 10, at(NOW - timedelta(days=40))))
    columns = {
        "owner_id": owner,
        "project_id": inbox,
        "title": title,
        "notes": literal(""),
        "status": status,
        "priority": i % 4,
        "due_at": due,
        "due_all_day": false(),
        "completed_at": case((i % 3 == 2, at(NOW))),
        "created_at": _minutes_before_now(i),
        "updated_at": at(NOW),
        "deleted_at": deleted,
    }
    started = time.perf_counter()
    with search_tables_rebuilt_after():
        rows = select(*columns.values()).select_from(source)
        db.session.execute(insert(Task).from_select(list(columns), rows))
    tagged = select(Task.id, Tag.id).join(Tag, Tag.owner_id == Task.owner_id).where(Task.id % 250 == 1)
    db.session.execute(insert(task_tags).from_select(["task_id", "tag_id"], tagged))
    db.session.commit()
    _analyzed()
    print(f"seeded {HUNDRED_THOUSAND:,} tasks in {time.perf_counter() - started:.1f} s")
    return users[0]


SEARCH_INDEX = {
    # (PostgreSQL index, SQLite virtual table) that each kind of term reads
    "substring": ("ix_tasks_trigram", "tasks_trigram VIRTUAL TABLE INDEX"),
    "word start": ("ix_tasks_search", "tasks_fts VIRTUAL TABLE INDEX"),
    # PostgreSQL reads the links of the tag (500 rows here) and fetches their tasks by id.
    "tag": (
        "Index Scan on tasks pk_tasks (id = task_tags.task_id)",
        "USING COVERING INDEX ix_task_tags_tag_id_task_id",
    ),
}
SEARCHES = {
    "port": ["substring"],
    "passport renew": ["substring"],
    "re": ["word start"],
    "@travel": ["tag"],
    "@travel port": ["tag"],  # the 400 tagged tasks, the part of a word checked on each
}


def test_search_at_a_hundred_thousand_tasks_reads_its_indexes_and_finds_rare_tasks(a_hundred_thousand_tasks):
    """Every kind of term is served by its index: trigrams for part of a word, the full-text
    index for 1 or 2 letters, the task_tags index for @tag; no plan reads all of a user's tasks.
    (One test: seeding 100,000 tasks is most of its time.)"""
    ada = a_hundred_thousand_tasks
    postgresql = db.engine.dialect.name == "postgresql"
    for q, kinds in SEARCHES.items():
        for sort in ("due", "created"):
            found = plans_of(two_pages(ada, TaskFilters(q=q, sort=sort)))
            assert_uses_indexes(found)
            lines = [line for _, plan in found for line in plan]
            for kind in kinds:
                index = SEARCH_INDEX[kind][0 if postgresql else 1]
                assert any(index in line for line in lines), f"{q} {sort} {kind}: {lines}"

    passports = task_page(ada, TaskFilters(q="port", completed=True), page_size=200, now=NOW).rows
    assert len(passports) == 100
    assert all(row.title.startswith("Renew passport") for row in passports)
    travel = task_page(ada, TaskFilters(q="@travel", completed=True), page_size=500, now=NOW).rows
    assert len(travel) == 400
    assert all(row.tags == ("travel",) for row in travel)
    assert len(task_page(ada, TaskFilters(q="re", completed=True), page_size=200, now=NOW).rows) == 100


def test_the_trash_at_a_hundred_thousand_tasks_reads_its_index(a_hundred_thousand_tasks):
    found = plans_of(lambda: trash_of(a_hundred_thousand_tasks, NOW))
    assert_uses_indexes(found)
    assert any("ix_tasks_owner_trash" in line for _, plan in found for line in plan), found
    trash = trash_of(a_hundred_thousand_tasks, NOW)
    assert trash.tasks and all(task.days_left == 27 for task in trash.tasks)


@pytest.fixture
def notified(app):
    """Five users with 2,000 notifications each, their ids interleaved as a busy day makes them."""
    users = [
        User(email=f"user{n}@example.com", password_hash="x", display_name=f"User {n}", timezone="UTC")
        for n in range(USERS)
    ]
    db.session.add_all(users)
    db.session.flush()
    rows = [
        {
            "key": f"note:{user.id}:{i}",
            "user_id": user.id,
            "title": f"Note {i}",
            "body": "",
            "url": "",
            "created_at": NOW,
            "read_at": NOW if i % 3 else None,
        }
        for i in range(2000)
        for user in users
    ]
    db.session.execute(insert(Notification.__table__), rows)
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return users[2]


def test_notification_pages_walk_an_index_newest_first_without_offset_or_sorting(notified):
    def two_pages():
        first = notifications_page(notified, None, page_size=50)
        notifications_page(notified, first.older_than, page_size=50)

    with recorded_statements() as seen:
        two_pages()
    # SQLite writes every LIMIT as "LIMIT ? OFFSET ?"; the offset must stay 0.
    assert all("OFFSET" not in sql or params[-1] == 0 for sql, params in seen if "notifications" in sql), seen

    found = plans_of(two_pages, "notifications")
    assert len(found) == 2
    for sql, plan in found:
        assert not [line for line in plan if "TEMP B-TREE" in line or line.startswith("Sort")], (sql, plan)
        if db.engine.dialect.name == "postgresql":
            assert not [line for line in plan if line.startswith("Seq Scan")], (sql, plan)
        else:
            assert any("USING INDEX ix_notifications_user_id_id" in line for line in plan), (sql, plan)


# --- the mail sweeps: users picked by zone, unconfirmed addresses left out on the way -----------

MONDAY_NOON = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
ZONES = [
    *("UTC", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Paris", "Europe/Berlin"),
    *("Europe/Madrid", "Europe/Rome", "Europe/Vienna", "Europe/Warsaw", "Europe/Prague", "Europe/Athens"),
    *("Europe/Helsinki", "Europe/Kyiv", "Europe/Istanbul", "Africa/Lagos", "Africa/Cairo", "Africa/Nairobi"),
    *("Africa/Johannesburg", "Asia/Dubai", "Asia/Karachi", "Asia/Kolkata", "Asia/Dhaka", "Atlantic/Azores"),
]
USERS_PER_ZONE = 600


@pytest.fixture
def users_in_zones(app):
    """600 users in each of 24 zones where Monday noon UTC is daytime; one in ten has not confirmed
    their address."""
    rows = [
        {
            "email": f"user{n}@example.com",
            "password_hash": "x",
            "display_name": f"User {n}",
            "timezone": ZONES[n % len(ZONES)],
            "email_verified_at": None if n % 10 == 0 else NOW,
        }
        for n in range(USERS_PER_ZONE * len(ZONES))
    ]
    db.session.execute(insert(User.__table__), rows)
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def _sweeps() -> None:
    plan_due_tomorrow(MONDAY_NOON, 2000, hand_out=lambda: None)
    plan_overdue(MONDAY_NOON)


def _where_unconfirmed_are_left_out(statement: str, parameters) -> list[str]:
    """PostgreSQL: the plan nodes whose filter leaves unconfirmed users out, by node type.
    SQLite: the whole plan (it names no filters)."""
    if db.engine.dialect.name != "postgresql":
        return _explain_sqlite(statement, parameters)
    raw = db.session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return [
        node["Node Type"]
        for node in _pg_nodes(plan[0]["Plan"])
        if "email_verified_at" in node.get("Filter", "")
    ]


def test_the_mail_sweeps_pick_users_by_the_zone_index_and_filter_unconfirmed_ones_on_the_way(users_in_zones):
    """The filter is one more condition on rows the zone index finds: no plan reads all users for it.
    (On PostgreSQL the claim's UPDATE then joins the picked ids back to users by a hash join over a
    table this small; that part is the same with or without the filter.)"""
    with recorded_statements() as seen:
        _sweeps()
    filtered = [(sql, params) for sql, params in seen if "email_verified_at" in sql]
    assert len(filtered) == 2 * len(ZONES), filtered  # a claim and an overdue sweep in each zone
    for sql, params in filtered:
        plan = _where_unconfirmed_are_left_out(sql, params)
        if db.engine.dialect.name == "postgresql":
            assert plan and not [node for node in plan if node.startswith("Seq Scan")], (sql, plan)
        else:
            assert any("SEARCH users USING INDEX ix_users_timezone" in line for line in plan), (sql, plan)
            assert not [line for line in plan if re.match(r"SCAN users\b(?! USING)", line)], (sql, plan)
    unconfirmed = select(func.count()).select_from(User).where(User.email_verified_at.is_(None))
    assert db.session.scalar(unconfirmed.where(User.due_tomorrow_planned_on.is_not(None))) == 0


# --- the admin pages ------------------------------------------------------------------------


def test_a_users_summary_counts_their_tasks_with_an_index(crowd):
    assert_uses_indexes(plans_of(lambda: user_summary(crowd)))


@pytest.fixture
def audited(app):
    """Five thousand accounts and as many audit entries about them."""
    count = 5000
    accounts = [
        {
            "email": f"user{n}@example.com",
            "password_hash": "x",
            "display_name": f"User {n}",
            "created_at": NOW,
        }
        for n in range(count)
    ]
    db.session.execute(insert(User.__table__), accounts)
    ids = db.session.scalars(db.select(User.id)).all()
    entries = [
        {
            "actor": "cli",
            "action": "promote",
            "target_id": user_id,
            "target": "x",
            "details": "",
            "created_at": NOW,
        }
        for user_id in ids
    ]
    db.session.execute(insert(AuditEntry.__table__), entries)
    db.session.commit()
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def _newest_first_pages(page):
    def run():
        first = page(None)
        page(first.older_than)

    return run


@pytest.mark.parametrize(
    ("table", "page"),
    [
        ("users", lambda before: users_page("", before, page_size=50)),
        ("audit_entries", lambda before: audit_page(before, page_size=50)),
    ],
)
def test_admin_pages_walk_the_primary_key_newest_first_without_sorting(audited, table, page):
    found = plans_of(_newest_first_pages(page), table)
    assert len(found) == 2
    for sql, plan in found:
        assert not [line for line in plan if "TEMP B-TREE" in line or line.startswith("Sort")], (sql, plan)
        if db.engine.dialect.name == "postgresql":  # SQLite walks its rowid table, in id order
            assert not [line for line in plan if line.startswith("Seq Scan")], (sql, plan)


# --- the admin overview's counting job, and what the overview reads -----------------------------


def _analyzed() -> None:
    """Statistics for the planner. On PostgreSQL with VACUUM too: it reads an index alone (an
    index-only scan) where its visibility map says the table's pages are all visible, which
    autovacuum keeps so on a real table."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))


@pytest.fixture
def signed_up_over_a_year(crowd):
    """The crowd, and 3,000 more accounts made over the year before NOW."""
    rng = random.Random(11)
    accounts = [
        {
            "email": f"early{n}@example.com",
            "password_hash": "x",
            "display_name": "Early",
            "created_at": NOW - timedelta(minutes=rng.randrange(60 * 24 * 365)),
        }
        for n in range(3000)
    ]
    db.session.execute(insert(User.__table__), accounts)
    db.session.commit()
    _analyzed()
    return crowd


def test_the_counting_job_reads_tasks_from_indexes(signed_up_over_a_year):
    found = plans_of(lambda: count_site_figures(NOW))
    assert len(found) == 2  # completions per day, tasks by status
    assert_uses_indexes(found)
    completions = next(plan for sql, plan in found if "completed_at >=" in sql)
    by_status = next(plan for sql, plan in found if "GROUP BY tasks.status" in sql)
    assert any("ix_tasks_completed_at" in line for line in completions), completions
    assert any("ix_tasks_status" in line for line in by_status), by_status


def test_the_counting_job_seeks_the_30_days_of_sign_ups(signed_up_over_a_year):
    found = plans_of(lambda: count_site_figures(NOW), "users")
    [plan] = [plan for sql, plan in found if "created_at >=" in sql]
    if db.engine.dialect.name == "postgresql":
        assert any(
            re.search(r"Index Only Scan on users ix_users_created_at .*created_at >=", line) for line in plan
        )
    else:
        assert any(
            "SEARCH users USING COVERING INDEX ix_users_created_at (created_at>? AND created_at<?)" in line
            for line in plan
        ), plan


@pytest.fixture
def counted_for_three_years(app):
    """Two figures a day for three years, as the counting job leaves them."""
    first = NOW.date() - timedelta(days=3 * 365)
    rows = [
        {"metric": metric, "day": first + timedelta(days=n), "value": n}
        for metric in ("signups", "tasks_completed")
        for n in range(3 * 365)
    ]
    db.session.execute(insert(DailyStat.__table__), rows)
    db.session.commit()
    _analyzed()


def test_the_overview_reads_its_30_days_by_primary_key(counted_for_three_years):
    count_site_figures(NOW)
    found = plans_of(lambda: site_figures(NOW.date()), "daily_stats")
    for sql, plan in found:
        if db.engine.dialect.name == "postgresql":
            assert any("pk_daily_stats" in line for line in plan), (sql, plan)
        else:
            assert any(
                re.search(
                    r"SEARCH daily_stats USING (COVERING )?INDEX \w+ \(metric=\? AND day>\? AND day<\?\)",
                    line,
                )
                for line in plan
            ), (sql, plan)


@pytest.fixture
def mailed_a_lot(app):
    """20,000 sent deliveries and 60 failed ones among them."""
    user = User(email="busy@example.com", password_hash="x", display_name="Busy", timezone="UTC")
    db.session.add(user)
    db.session.flush()
    rows = [
        {
            "key": f"mail:{n}",
            "user_id": user.id,
            "kind": "reminder",
            "payload": "{}",
            "state": "failed" if n % 333 == 0 else "sent",
            "attempts": 1,
            "not_before": NOW,
            "created_at": NOW,
        }
        for n in range(20_000)
    ]
    db.session.execute(insert(Delivery.__table__), rows)
    db.session.commit()
    _analyzed()


def test_failed_mail_pages_walk_their_partial_index_newest_first(mailed_a_lot):
    def two_pages():
        first = failed_page(None, 50)
        failed_page(first.older_than, 50)
        failed_count()

    found = plans_of(two_pages, "deliveries")
    assert len(found) == 3
    for sql, plan in found:
        assert any("ix_deliveries_failed" in line for line in plan), (sql, plan)
        assert not [
            line for line in plan if "TEMP B-TREE" in line or line.startswith(("Sort", "Seq Scan"))
        ], (sql, plan)
