"""The task list: filters, sort orders, search as you type, and "load more" (keyset pages)."""

from __future__ import annotations

import base64
import html
import json
import re
from datetime import UTC, datetime, time, timedelta

import pytest

from tests.support import add_task, titles
from webapp.extensions import db
from webapp.models import Priority, Project, Status, Task, User
from webapp.timezones import END_OF_DAY, local_to_utc, local_today

NOW = datetime.now(UTC)


def load_more_link(response) -> dict[str, str] | None:
    """The "load more" link's attributes: href (without JavaScript), hx-get, hx-replace-url."""
    body = response.get_data(as_text=True)
    match = re.search(r'<li class="load-more">\s*<a class="button secondary" ([^>]+)>', body)
    if not match:
        return None
    return {name: html.unescape(value) for name, value in re.findall(r'([\w-]+)="([^"]*)"', match.group(1))}


def next_link(response) -> str | None:
    """The URL of the next page alone (what htmx fetches to append)."""
    link = load_more_link(response)
    return link["hx-get"] if link else None


def all_pages(client, url: str) -> list[str]:
    seen: list[str] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen += titles(response)
        url = next_link(response)
    return seen


@pytest.fixture
def small_pages(app_config):
    app_config["PAGE_SIZE"] = 3


def london_day(days_from_today: int) -> datetime:
    """End of a local day in Ada's zone, as stored for a date-only due date."""
    day = local_today("Europe/London") + timedelta(days=days_from_today)
    return local_to_utc(day, END_OF_DAY, "Europe/London")


# --- filters -----------------------------------------------------------------------------------


def test_status_filter_shows_only_tasks_in_that_status(client, user):
    add_task(user, "Write report", status=Status.IN_PROGRESS)
    add_task(user, "Buy milk")
    add_task(user, "Call Bob", status=Status.DONE, completed_at=NOW)
    assert titles(client.get("/tasks?status=in_progress")) == ["Write report"]
    assert titles(client.get("/tasks?status=done")) == ["Call Bob"]
    assert sorted(titles(client.get("/tasks?status=open"))) == ["Buy milk", "Write report"]


def test_tag_filter_shows_tasks_with_that_tag(client, user):
    add_task(user, "Buy milk", tags=["errands", "home"])
    add_task(user, "Fix the sink", tags=["home"])
    add_task(user, "Write report", tags=["work"])
    assert sorted(titles(client.get("/tasks?tag=home"))) == ["Buy milk", "Fix the sink"]
    assert titles(client.get("/tasks?tag=ERRANDS")) == ["Buy milk"]


def test_project_filter_shows_only_that_projects_tasks(client, user):
    work = Project(owner_id=user.id, name="Work")
    add_task(user, "Write report", project=work)
    add_task(user, "Buy milk")
    assert titles(client.get(f"/tasks?project={work.id}")) == ["Write report"]


def test_due_filters_overdue_today_this_week_and_none(client, user):
    add_task(user, "Yesterday", due_at=london_day(-1), due_all_day=True)
    add_task(user, "Done yesterday", due_at=london_day(-1), due_all_day=True, status=Status.DONE)
    add_task(user, "Today", due_at=london_day(0), due_all_day=True)
    add_task(user, "In two weeks", due_at=london_day(14), due_all_day=True)
    add_task(user, "Someday")
    assert titles(client.get("/tasks?due=overdue")) == ["Yesterday"]
    assert titles(client.get("/tasks?due=today")) == ["Today"]
    assert titles(client.get("/tasks?due=none")) == ["Someday"]
    this_week = titles(client.get("/tasks?due=week"))
    assert "Today" in this_week
    assert "In two weeks" not in this_week
    assert "Someday" not in this_week


def test_due_tomorrow_shows_the_tasks_due_on_the_users_next_local_day(client, user):
    tomorrow = local_today("Europe/London") + timedelta(days=1)
    add_task(user, "Today", due_at=london_day(0), due_all_day=True)
    add_task(user, "First thing tomorrow", due_at=local_to_utc(tomorrow, time(0, 0), "Europe/London"))
    add_task(user, "Tomorrow", due_at=london_day(1), due_all_day=True)
    add_task(user, "Done tomorrow", due_at=london_day(1), due_all_day=True, status=Status.DONE)
    add_task(
        user, "Day after", due_at=local_to_utc(tomorrow + timedelta(days=1), time(0, 0), "Europe/London")
    )
    add_task(user, "Someday")

    response = client.get("/tasks?due=tomorrow&completed=1")

    assert titles(response) == ["First thing tomorrow", "Tomorrow", "Done tomorrow"]
    assert '<option value="tomorrow" selected>Due tomorrow</option>' in response.get_data(as_text=True)


def test_done_tasks_leave_the_list_until_show_completed_is_on(client, user):
    add_task(user, "Still to do")
    add_task(user, "Finished", status=Status.DONE)
    add_task(user, "Started", status=Status.IN_PROGRESS)

    assert titles(client.get("/tasks")) == ["Still to do", "Started"]
    shown = client.get("/tasks?completed=1")
    assert titles(shown) == ["Still to do", "Finished", "Started"]
    assert 'name="completed" value="1" checked' in shown.get_data(as_text=True)
    assert titles(client.get("/tasks?status=done")) == ["Finished"]
    assert "completed=1" in client.get("/tasks?completed=1&tag=x").get_data(as_text=True)


def test_the_due_filter_offers_due_tomorrow(client, user):
    page = client.get("/tasks").get_data(as_text=True)

    select = page[page.index('<select id="due"') :]
    labels = re.findall(r"<option [^>]*>([^<]+)</option>", select[: select.index("</select>")])
    assert labels == [
        "Any time",
        "Overdue",
        "Due today",
        "Due tomorrow",
        "Due this week",
        "Due in the next 7 days",
        "No due date",
    ]


def test_unknown_filter_values_are_a_400_with_a_message(client, user):
    for query in ("status=blocked", "due=later", "sort=random", "project=abc", "project=99999999999999"):
        response = client.get(f"/tasks?{query}")
        assert response.status_code == 400, query
        assert "Unknown" in response.get_data(as_text=True)


def test_another_users_project_filter_shows_nothing_of_theirs(client, user, other_user):
    bobs = add_task(other_user, "Bob's secret")
    response = client.get(f"/tasks?project={bobs.project_id}")
    assert response.status_code == 200
    assert titles(response) == []


# --- what a row shows --------------------------------------------------------------------------


def _row_of(page: str, title: str) -> tuple[str, str]:
    """The markup of the row showing `title`, and its text as read (words one space apart)."""
    start = page.rindex('<li class="task-row', 0, page.index(f">{title}</a>"))
    end = page.find('<li class="task-row', start + 1)
    row = page[start : end if end != -1 else len(page)]
    return row, " ".join(re.sub(r"<[^>]+>", " ", row).split())


def test_a_row_shows_status_project_due_date_in_the_users_zone_priority_and_tags(client, user):
    yesterday = local_today("Europe/London") - timedelta(days=1)
    nine_yesterday = local_to_utc(yesterday, time(9, 0), "Europe/London")
    add_task(user, "Pay rent", status=Status.IN_PROGRESS, priority=Priority.HIGH, due_at=nine_yesterday)
    add_task(user, "Call Bob", due_at=london_day(1), due_all_day=True, tags=["phone", "errands"])

    page = client.get("/tasks", headers={"HX-Request": "true"}).get_data(as_text=True)

    rent, rent_text = _row_of(page, "Pay rent")
    assert "Pay rent In progress Inbox Overdue · Yesterday 09:00 High priority Edit Delete" in rent_text
    assert "due-overdue" in rent  # shown in red
    bob, bob_text = _row_of(page, "Call Bob")
    assert "Call Bob To do Inbox Due Tomorrow Normal priority errands phone Edit Delete" in bob_text
    assert "due-overdue" not in bob


# --- sort orders -------------------------------------------------------------------------------


def test_due_sort_puts_soonest_first_and_undated_tasks_last(client, user):
    add_task(user, "Someday")
    add_task(user, "Next week", due_at=NOW + timedelta(days=7))
    add_task(user, "Tomorrow", due_at=NOW + timedelta(days=1))
    add_task(user, "Last week", due_at=NOW - timedelta(days=7))
    assert titles(client.get("/tasks")) == ["Last week", "Tomorrow", "Next week", "Someday"]


def test_priority_sort_puts_urgent_first(client, user):
    add_task(user, "Low", priority=Priority.LOW)
    add_task(user, "Urgent", priority=Priority.URGENT)
    add_task(user, "Normal", priority=Priority.NORMAL)
    add_task(user, "High", priority=Priority.HIGH)
    assert titles(client.get("/tasks?sort=priority")) == ["Urgent", "High", "Normal", "Low"]


def test_created_sort_puts_newest_first(client, user):
    add_task(user, "Oldest", created_at=NOW - timedelta(days=3))
    add_task(user, "Newest", created_at=NOW)
    add_task(user, "Middle", created_at=NOW - timedelta(days=1))
    assert titles(client.get("/tasks?sort=created")) == ["Newest", "Middle", "Oldest"]


# --- search ------------------------------------------------------------------------------------


def test_search_finds_tasks_by_title_and_by_notes(client, user):
    add_task(user, "Buy milk")
    add_task(user, "Call the plumber", notes="Ask about the leaking kitchen tap")
    add_task(user, "Write report")
    assert titles(client.get("/tasks?q=milk")) == ["Buy milk"]
    assert titles(client.get("/tasks?q=kitchen")) == ["Call the plumber"]
    assert titles(client.get("/tasks?q=kitchen+plumber")) == ["Call the plumber"]


def test_search_matches_word_prefixes_as_you_type(client, user):
    add_task(user, "Renew passport")
    add_task(user, "Pay rent")
    assert titles(client.get("/tasks?q=pass")) == ["Renew passport"]
    assert sorted(titles(client.get("/tasks?q=re"))) == ["Pay rent", "Renew passport"]
    assert sorted(titles(client.get("/tasks?q=ren"))) == ["Pay rent", "Renew passport"]


def test_search_finds_part_of_a_word(client, user):
    add_task(user, "Renew passport")
    add_task(user, "Write report", notes="for the airport")
    add_task(user, "Buy milk")
    assert sorted(titles(client.get("/tasks?q=port"))) == ["Renew passport", "Write report"]
    assert titles(client.get("/tasks?q=PORT+renew")) == ["Renew passport"]
    assert titles(client.get("/tasks?q=irpo")) == ["Write report"]  # in the notes


def test_one_or_two_letters_match_the_start_of_a_word_only(client, user):
    add_task(user, "Buy bread")
    add_task(user, "Write report")
    assert titles(client.get("/tasks?q=re")) == ["Write report"]
    assert titles(client.get("/tasks?q=b+br")) == ["Buy bread"]


def test_at_a_word_searches_tags_only(client, user):
    add_task(user, "Pick up parcel", tags=["errands"])
    add_task(user, "Plan errands for the week")
    add_task(user, "Buy milk", tags=["errands", "home"])
    assert sorted(titles(client.get("/tasks?q=@errands"))) == ["Buy milk", "Pick up parcel"]
    assert titles(client.get("/tasks?q=@Errands+milk")) == ["Buy milk"]
    assert titles(client.get("/tasks?q=@errands+@home")) == ["Buy milk"]
    assert titles(client.get("/tasks?q=@errand")) == []  # a tag's whole name


def test_a_renamed_task_is_found_by_its_new_title(client, user):
    task = add_task(user, "Buy milk")
    task.title = "Renew passport"
    db.session.commit()
    assert titles(client.get("/tasks?q=sspo")) == ["Renew passport"]
    assert titles(client.get("/tasks?q=milk")) == []


def test_search_never_finds_another_users_tasks(client, user, other_user):
    add_task(other_user, "Bob's passport", tags=["travel"])
    add_task(other_user, "Bob's report", notes="airport")
    add_task(user, "Ada's milk", tags=["travel"])
    assert titles(client.get("/tasks?q=port")) == []
    assert titles(client.get("/tasks?q=@travel")) == ["Ada&#39;s milk"]
    assert titles(client.get("/tasks?q=bo")) == []


def test_search_only_finds_your_own_tasks(client, user, other_user):
    add_task(other_user, "Bob's passport")
    add_task(user, "Ada's passport")
    assert titles(client.get("/tasks?q=passport")) == ["Ada&#39;s passport"]


def test_search_ignores_deleted_tasks(client, user):
    add_task(user, "Old passport", deleted_at=NOW)
    assert titles(client.get("/tasks?q=passport")) == []


@pytest.mark.parametrize(
    "q",
    [
        '"',
        '"milk',
        "milk*",
        "*",
        "milk:",
        ":",
        "(",
        "(milk",
        "milk)",
        "a AND",
        "NOT",
        "'",
        "-milk",
        "^",
        "{}",
        "!@#$%",
        "   ",
    ],
)
def test_search_with_quotes_and_punctuation_never_fails(client, user, q):
    add_task(user, "Buy milk")
    response = client.get("/tasks", query_string={"q": q})
    assert response.status_code == 200
    if "milk" in q:
        assert titles(response) == ["Buy milk"]


def test_search_is_combined_with_filters(client, user):
    add_task(user, "Buy milk", status=Status.DONE, completed_at=NOW)
    add_task(user, "Buy bread")
    assert titles(client.get("/tasks?q=buy&status=todo")) == ["Buy bread"]


# --- load more (keyset pages) ------------------------------------------------------------------


def _many_tasks(user: User) -> list[Task]:
    """Eleven tasks with ties in due date, priority and creation time, and four without due date."""
    same_due = NOW + timedelta(days=2)
    same_created = NOW - timedelta(hours=1)
    return [
        add_task(
            user,
            f"Task {i:02d}",
            due_at=None if i % 3 == 0 else same_due if i % 2 else NOW + timedelta(days=i),
            priority=i % 4 if i < 6 else Priority.HIGH,
            created_at=same_created if i % 2 else NOW - timedelta(minutes=i),
        )
        for i in range(11)
    ]


EXPECTED_ORDER = {
    "due": lambda t: (t.due_at is None, t.due_at or NOW, t.id),
    "priority": lambda t: (-t.priority, -t.id),
    "created": lambda t: (-t.created_at.timestamp(), -t.id),
}


@pytest.mark.parametrize("sort", ["due", "priority", "created"])
def test_load_more_shows_every_task_exactly_once_in_order(small_pages, client, user, sort):
    tasks = _many_tasks(user)
    expected = [t.title for t in sorted(tasks, key=EXPECTED_ORDER[sort])]
    assert all_pages(client, f"/tasks?sort={sort}") == expected


def test_load_more_from_a_project_page_stays_on_that_project(small_pages, client, user):
    work = Project(owner_id=user.id, name="Work")
    for i in range(5):
        add_task(user, f"Work {i}", project=work)
        add_task(user, f"Inbox {i}")
    seen = all_pages(client, f"/projects/{work.id}")
    assert sorted(seen) == [f"Work {i}" for i in range(5)]


def test_load_more_pages_keep_the_filters(small_pages, client, user):
    for i in range(7):
        add_task(user, f"Home {i}", tags=["home"])
        add_task(user, f"Work {i}", tags=["work"])
    seen = all_pages(client, "/tasks?tag=home")
    assert sorted(seen) == [f"Home {i}" for i in range(7)]


def test_load_more_link_is_a_real_link_that_htmx_uses_to_append(small_pages, client, user):
    for i in range(4):
        add_task(user, f"Task {i}")
    response = client.get("/tasks")
    # htmx fetches the next page alone; the list makes it replace the link's own item.
    link = load_more_link(response)
    assert re.fullmatch(r"/tasks\?cursor=[^&]+&shown=6", link["hx-get"])
    assert link["hx-trigger"] == "click, revealed"
    rows = r'<ul id="task-rows" [^>]*hx-target="closest li" hx-swap="outerHTML">'
    assert re.search(rows, response.get_data(as_text=True))


def test_last_page_has_no_load_more_link(small_pages, client, user):
    for i in range(3):
        add_task(user, f"Task {i}")
    assert next_link(client.get("/tasks")) is None


def _cursor(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "%%%",
        _cursor([1, 2]),
        _cursor({"s": "due", "p": 1, "v": "yesterday", "i": 1}),
        _cursor({"s": "due", "p": 1, "v": "2026-01-01T00:00:00", "i": 1}),
        _cursor({"s": "due", "p": 3, "v": None, "i": 1}),
        _cursor({"s": "due", "p": 2, "v": None, "i": "1 OR 1=1"}),
        _cursor({"s": "due", "p": 2, "v": None, "i": 10**30}),
        _cursor({"s": "priority", "p": 1, "v": 7, "i": 1}),
        _cursor({"s": "created", "p": 1, "v": 5, "i": 1}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_a_broken_load_more_link_is_a_400_with_a_message(client, user, cursor):
    response = client.get("/tasks", query_string={"cursor": cursor})
    assert response.status_code == 400
    assert "load more" in response.get_data(as_text=True)


def test_a_cursor_from_another_sort_order_is_a_400(small_pages, client, user):
    for i in range(4):
        add_task(user, f"Task {i}", priority=i % 4)
    link = next_link(client.get("/tasks?sort=priority"))
    response = client.get(link.replace("sort=priority", "sort=created"))
    assert response.status_code == 400


# --- the place in a long list: `shown` and `next` ---------------------------------------------


def test_load_more_keeps_how_many_rows_are_shown_in_the_url(small_pages, client, user):
    for i in range(8):
        add_task(user, f"Task {i}")
    first = client.get("/tasks")
    link = load_more_link(first)
    third = titles(first)[-1]
    third_id = re.search(rf'<a id="t(\d+)" href="[^"]*">{third}</a>', first.get_data(as_text=True)).group(1)
    # Without JavaScript the link opens the longer list at the last row seen; htmx appends the next
    # page and puts the longer list's URL in place of the current one.
    assert link["href"] == f"/tasks?shown=6#t{third_id}"
    assert link["hx-replace-url"] == "/tasks?shown=6"
    appended = client.get(link["hx-get"], headers={"HX-Request": "true"})
    reloaded = client.get(link["hx-replace-url"])
    assert titles(first) + titles(appended) == titles(reloaded) == all_pages(client, "/tasks")[:6]
    for page in (appended, reloaded):
        assert load_more_link(page)["hx-replace-url"] == "/tasks?shown=9"


def test_shown_keeps_the_filters_and_the_rows_link_back_to_that_list(small_pages, client, user):
    for i in range(5):
        add_task(user, f"Home {i}", tags=["home"])
        add_task(user, f"Work {i}", tags=["work"])
    response = client.get("/tasks?tag=home&shown=4")
    assert len(titles(response)) == 4
    assert all(title.startswith("Home") for title in titles(response))
    rows = re.findall(r'<a id="t(\d+)" href="([^"]+)">', response.get_data(as_text=True))
    task_id, href = rows[-1]
    assert html.unescape(href) == f"/tasks/{task_id}?next=/tasks?tag%3Dhome%26shown%3D4"
    page = client.get(html.unescape(href)).get_data(as_text=True)
    assert f'<a href="/tasks?tag=home&amp;shown=4#t{task_id}">← Back to tasks</a>' in page


@pytest.fixture
def five_rows_at_most(app_config):
    app_config["MAX_SHOWN_ROWS"] = 5


def test_shown_past_the_most_a_url_may_show_is_clamped(small_pages, five_rows_at_most, client, user):
    for i in range(8):
        add_task(user, f"Task {i}")
    response = client.get("/tasks?shown=1000000")
    assert response.status_code == 200
    assert len(titles(response)) == 5
    # At the most, "load more" adds the next page without changing the URL (no JS: that page alone).
    link = load_more_link(response)
    assert "hx-replace-url" not in link
    assert link["href"].startswith("/tasks?cursor=")
    assert len(titles(client.get(link["hx-get"], headers={"HX-Request": "true"}))) == 3


def test_shown_below_a_page_shows_a_page(small_pages, client, user):
    for i in range(5):
        add_task(user, f"Task {i}")
    assert len(titles(client.get("/tasks?shown=1"))) == 3


@pytest.mark.parametrize("shown", ["abc", "0", "-3", "1.5", "1e3", " 6", "6 OR 1=1", "9" * 5000])
def test_a_broken_shown_is_a_400_with_a_message(client, user, shown):
    response = client.get("/tasks", query_string={"shown": shown})
    assert response.status_code == 400
    assert "number of tasks to show" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "next_",
    [
        "https://evil.example/tasks",
        "//evil.example/tasks",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/tasks\r\nLocation: https://evil.example",
    ],
)
def test_back_to_tasks_never_leaves_the_site(client, user, next_):
    task = add_task(user, "Buy milk")
    page = client.get(f"/tasks/{task.id}", query_string={"next": next_}).get_data(as_text=True)
    assert f'<a href="/tasks#t{task.id}">← Back to tasks</a>' in page
    assert "evil" not in page
    response = client.post(f"/tasks/{task.id}/toggle", data={"next": next_})
    assert response.status_code == 303
    assert response.headers["Location"] == "/tasks"


# --- full page or fragment ---------------------------------------------------------------------


def test_htmx_request_gets_only_the_rows(client, user):
    add_task(user, "Buy milk")
    response = client.get("/tasks?q=milk", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith("<li")
    assert "Buy milk" in body
    assert "HX-Request" in response.headers["Vary"]


def test_plain_request_gets_the_full_page_with_a_search_form_that_works_without_js(client, user):
    add_task(user, "Buy milk")
    response = client.get("/tasks?q=milk")
    body = response.get_data(as_text=True)
    assert "<html" in body
    assert "HX-Request" in response.headers["Vary"]
    assert re.search(r'<form class="filters" method="get" action="/tasks"', body)
    assert 'hx-trigger="input changed delay:300ms, search"' in body
    assert 'hx-push-url="true"' in body
    assert 'value="milk"' in body


def test_back_button_history_restore_gets_the_full_page(client, user):
    response = client.get("/tasks", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)


def test_task_list_needs_login(client):
    response = client.get("/tasks")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]
