"""The page cache: a write shows on the very next read of every list and count, one user never
sees another's page, a logged-out session is refused at once, and the cache gets out of the way
when Redis does."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from jobs import PLANNING_QUEUE
from webapp.cache import cache_stats
from webapp.extensions import db, queues
from webapp.models import Project

from .conftest import PASSWORD, AuthActions
from .support import add_task, copy_of_browser, page_text, titles

HTMX = {"HX-Request": "true"}
LAST_WEEK = datetime.now(UTC) - timedelta(days=7)
CACHED_PAGES = ("/", "/tasks", "/tasks?due=overdue")


@contextmanager
def counting_queries():
    """The SQL statements the app sends while the block runs."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _hits(name: str) -> int:
    return cache_stats()[name]["hit"]


def _visit_twice(client, *urls: str, headers=None) -> None:
    """Read each page twice: the second answer comes from the cache."""
    for url in urls:
        for _ in range(2):
            assert client.get(url, headers=headers).status_code == 200


def _stat(page: str, label: str) -> int:
    """A number on the dashboard, by its label."""
    match = re.search(rf'stat-number[^"]*">(\d+)</span> <span class="stat-label">{label}<', page)
    assert match, f"no {label} on the page"
    return int(match.group(1))


def _overdue_section(page: str) -> str:
    return page.split(">Overdue</a></h2>", 1)[1].split("</section>", 1)[0]


@pytest.fixture
def ada(client, user):
    """Ada, signed up, past the welcome message (a page with a message to show once is never
    cached), her session confirmed against the database once."""
    client.get("/profile")
    return user


# --- served from the cache --------------------------------------------------------------------


def test_reading_a_list_again_costs_no_database_query(client, ada):
    add_task(ada, "Buy milk")
    client.get("/tasks")
    client.get("/tasks")  # the session is confirmed against the database once more, then cached

    with counting_queries() as statements:
        response = client.get("/tasks")

    assert titles(response) == ["Buy milk"]
    assert statements == []


def test_the_cache_counts_hits_and_misses_per_fragment(client, ada):
    client.get("/tasks")
    client.get("/tasks")
    client.get("/tasks", headers=HTMX)

    stats = cache_stats()
    assert stats["task_list"]["miss"] == 2  # the page and the fragment are stored apart
    assert stats["task_list"]["hit"] == 1
    assert stats["dashboard"] == {"hit": 0, "stale": 0, "miss": 0, "not_modified": 0}


def test_the_fragment_and_the_page_are_cached_apart(client, ada):
    add_task(ada, "Buy milk")
    _visit_twice(client, "/tasks")
    _visit_twice(client, "/tasks", headers=HTMX)

    assert "<html" in page_text(client.get("/tasks"))
    fragment = page_text(client.get("/tasks", headers=HTMX))
    assert "<html" not in fragment and "Buy milk" in fragment
    assert client.get("/tasks").headers["Vary"] == "HX-Request, Cookie"


def test_the_same_url_gives_each_user_their_own_page(client, ada, other_client, other_user):
    add_task(ada, "Task of Ada")
    add_task(other_user, "Task of Bob")
    other_client.get("/profile")
    _visit_twice(client, "/tasks")
    _visit_twice(other_client, "/tasks")
    hits = _hits("task_list")

    assert titles(client.get("/tasks")) == ["Task of Ada"]
    assert titles(other_client.get("/tasks")) == ["Task of Bob"]
    assert "Hello, Ada" in page_text(client.get("/"))
    assert "Hello, Bob" in page_text(other_client.get("/"))
    assert _hits("task_list") == hits + 2


@pytest.fixture
def csrf_app(app_config, request):
    app_config["WTF_CSRF_ENABLED"] = True
    return request.getfixturevalue("app")


def test_a_cached_page_carries_the_csrf_token_of_the_browser_reading_it(csrf_app):
    laptop, phone = csrf_app.test_client(), csrf_app.test_client()
    _sign_up(laptop)
    _log_in(phone)
    _visit_twice(laptop, "/profile", "/tasks")
    hits = _hits("task_list")
    page = page_text(phone.get("/tasks"))  # stored by the laptop's request
    assert _hits("task_list") == hits + 1
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    response = phone.post("/tasks", data={"title": "From the phone", "csrf_token": token})

    assert response.status_code == 303
    assert "From the phone" in titles(phone.get("/tasks"))


def _sign_up(client) -> None:
    """Sign up and log in: neither needs a token (see test_a_login_from_this_site_needs_no_token)."""
    data = {"email": "ada@example.com", "password": PASSWORD, "confirm": PASSWORD}
    assert client.post("/signup", data=data | {"display_name": "Ada", "timezone": "UTC"}).status_code == 303
    _log_in(client)


def _log_in(client) -> None:
    assert client.post("/login", data={"email": "ada@example.com", "password": PASSWORD}).status_code == 303


# --- a write shows on the next read of every list and count that shows the row ------------------


def test_a_new_task_shows_in_every_list_and_count(client, ada):
    _visit_twice(client, *CACHED_PAGES)
    inbox = db.session.scalar(db.select(Project).filter_by(owner_id=ada.id))
    _visit_twice(client, f"/projects/{inbox.id}", "/tasks?status=open")

    client.post("/tasks", data={"title": "Buy milk"})

    assert titles(client.get("/tasks")) == ["Buy milk"]
    assert titles(client.get("/tasks?status=open")) == ["Buy milk"]
    assert titles(client.get(f"/projects/{inbox.id}")) == ["Buy milk"]
    assert _stat(page_text(client.get("/")), "To do") == 1


def test_completing_an_overdue_task_updates_the_dashboard_and_the_overdue_list(client, ada):
    task = add_task(ada, "Pay rent", due_at=LAST_WEEK)
    _visit_twice(client, *CACHED_PAGES)
    _visit_twice(client, "/", headers=HTMX)
    assert _stat(page_text(client.get("/")), "Overdue") == 1

    response = client.post(f"/tasks/{task.id}/toggle", headers=HTMX)

    assert "tasks-changed" in response.headers["HX-Trigger"]  # the dashboard re-fetches its counts
    summary = page_text(client.get("/", headers=HTMX))
    assert _stat(summary, "Overdue") == 0
    assert _stat(summary, "Done") == 1
    assert "Pay rent" not in _overdue_section(summary)
    assert titles(client.get("/tasks?due=overdue")) == []


def test_edits_moves_deletes_and_undo_show_at_once(client, ada):
    task = add_task(ada, "Buy milk")
    work = Project(owner_id=ada.id, name="Work")
    db.session.add(work)
    db.session.commit()
    _visit_twice(client, "/tasks", f"/projects/{work.id}")

    client.post(f"/tasks/{task.id}/edit", data=_edit(title="Buy oat milk", project_id=work.id))
    assert titles(client.get("/tasks")) == ["Buy oat milk"]
    assert titles(client.get(f"/projects/{work.id}")) == ["Buy oat milk"]

    client.post(f"/tasks/{task.id}/delete")
    assert titles(client.get("/tasks")) == []
    client.post(f"/tasks/{task.id}/restore")
    assert titles(client.get("/tasks")) == ["Buy oat milk"]

    inbox = db.session.scalar(db.select(Project).filter_by(owner_id=ada.id, is_inbox=True))
    client.post(f"/tasks/{task.id}/move", data={"project_id": inbox.id})
    assert titles(client.get(f"/projects/{work.id}")) == []


def test_renaming_a_project_renames_it_on_every_row(client, ada):
    work = Project(owner_id=ada.id, name="Work")
    db.session.add(work)
    db.session.commit()
    add_task(ada, "Write report", project=work)
    _visit_twice(client, "/tasks")

    client.post(f"/projects/{work.id}/rename", data={"name": "Office"})

    assert ">Office</a>" in page_text(client.get("/tasks"))


def test_a_new_name_in_the_profile_shows_in_the_header_at_once(client, ada):
    _visit_twice(client, "/tasks")

    client.post("/profile", data={"display_name": "Ada L.", "timezone": "Europe/London"})

    assert '<span class="account-name">Ada L.</span>' in page_text(client.get("/tasks"))


def _edit(**changes) -> dict:
    data = {"title": "", "notes": "", "status": "todo", "priority": "normal"}
    data |= {"due_date": "", "due_time": "", "tags": "", "project_id": ""}
    return data | changes


# --- the bell ---------------------------------------------------------------------------------------


def _bell(client) -> str:
    return page_text(client.get("/notifications/count", headers=HTMX))


def test_a_reminder_delivered_by_a_worker_rings_the_bell_on_the_next_poll(client, ada, run_worker_process):
    task = add_task(ada, "Call the plumber")
    client.post(f"/tasks/{task.id}/reminders", data={"when": "30m"})
    for _ in range(2):
        assert "unread" not in _bell(client)
    db.session.execute(db.text("UPDATE reminders SET remind_at = :past"), {"past": LAST_WEEK})
    db.session.commit()

    queues.queue(PLANNING_QUEUE).enqueue("jobs.reminders.run_sweep")
    run_worker_process("reminders")

    assert "Notifications, 1 unread" in _bell(client)


def test_reading_notifications_empties_the_bell(client, ada):
    from webapp.reminders.models import Notification

    db.session.add(Notification(key="test:1", user_id=ada.id, title="Hi", body="", url="/"))
    db.session.commit()
    for _ in range(2):
        assert "1 unread" in _bell(client)

    client.post("/notifications/read")

    assert "unread" not in _bell(client)


def test_the_bell_answers_304_while_nothing_changed(client, ada):
    first = client.get("/notifications/count", headers=HTMX)
    tag = first.headers["ETag"]

    again = client.get("/notifications/count", headers={**HTMX, "If-None-Match": tag})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == "private, no-cache"

    client.post("/tasks", data={"title": "Anything"})
    changed = client.get("/notifications/count", headers={**HTMX, "If-None-Match": tag})
    assert changed.status_code == 200
    assert cache_stats()["bell"]["not_modified"] == 1


# --- sessions ---------------------------------------------------------------------------------------


def _session_is_cached(client) -> None:
    _visit_twice(client, "/tasks")
    with counting_queries() as statements:
        client.get("/tasks")
    assert statements == [], "the session should come from the cache"


def test_a_logged_out_session_is_refused_on_the_next_request(app, client, ada, auth):
    _session_is_cached(client)
    replay = copy_of_browser(app, client)

    auth.logout()

    response = replay.get("/tasks")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_changing_the_password_logs_out_the_other_browsers_at_once(app, client, ada):
    _session_is_cached(client)
    phone = app.test_client()
    AuthActions(phone).login()

    new_password = "a brand new passphrase"
    data = {"current_password": PASSWORD, "password": new_password, "confirm": new_password}
    phone.post("/profile/password", data=data)

    assert client.get("/tasks").status_code == 302
    assert phone.get("/tasks").status_code == 200


def test_other_sessions_of_the_user_survive_a_logout_elsewhere(app, client, ada):
    _session_is_cached(client)
    phone = app.test_client()
    AuthActions(phone).login()

    AuthActions(phone).logout()

    assert client.get("/tasks").status_code == 200


# --- headers for shared caches --------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/login", "/signup", "/reset", "/"])
def test_anonymous_pages_set_no_cookie_so_nginx_may_keep_them(app, url):
    response = app.test_client().get(url)  # a first visit: no cookie yet

    assert response.status_code in (200, 302)
    assert "Set-Cookie" not in response.headers
    assert "private" not in response.headers.get("Cache-Control", "")
    assert "csrf_token" not in page_text(response)


def test_pages_of_a_signed_in_user_are_private(client, ada):
    for url in ("/", "/tasks", "/projects", "/profile", "/notifications"):
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url


def test_a_message_for_an_anonymous_visitor_is_private(client, ada, auth):
    auth.logout()

    response = client.get("/login")

    assert "You are logged out." in page_text(response)
    assert response.headers["Cache-Control"] == "private, no-store"


LOGIN = {"email": "ada@example.com", "password": PASSWORD}


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "https://evil.example"}],
)
def test_a_login_another_site_makes_the_browser_post_is_refused(csrf_app, headers):
    browser = csrf_app.test_client()
    _sign_up(csrf_app.test_client())

    assert browser.post("/login", data=LOGIN, headers=headers).status_code == 403
    assert browser.get("/tasks").status_code == 302  # not logged in


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}, {}])
def test_a_login_from_this_site_needs_no_token(csrf_app, headers):
    browser = csrf_app.test_client()
    _sign_up(csrf_app.test_client())

    assert browser.post("/login", data=LOGIN, headers=headers).status_code == 303
    assert browser.get("/tasks").status_code == 200


def test_signed_in_forms_still_need_their_token(csrf_app):
    browser = csrf_app.test_client()
    _sign_up(browser)

    response = browser.post("/tasks", data={"title": "No token"}, headers={"Sec-Fetch-Site": "same-origin"})

    assert response.status_code == 400
