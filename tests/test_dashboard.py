"""The dashboard: where Ada's work stands, counted in her own time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from webapp.dashboard.services import summary
from webapp.extensions import db
from webapp.models import Status

from .support import add_task

# Thursday 12 March 2026, 00:30 in Tokyo (UTC+9): still Wednesday 11 March in UTC.
NOW = datetime(2026, 3, 11, 15, 30, tzinfo=UTC)


@pytest.fixture
def tokyo_user(user):
    user.timezone = "Asia/Tokyo"
    db.session.commit()
    return user


@pytest.fixture
def tasks_around_midnight(tokyo_user, other_user):
    ada = tokyo_user
    # Due "today" (Thu 12 Mar, by 23:59 Tokyo), not overdue.
    add_task(ada, "Due today", due_at=datetime(2026, 3, 12, 14, 59, tzinfo=UTC), due_all_day=True)
    # Due yesterday (Wed 11 Mar in Tokyo) although it is still 11 March in UTC: overdue.
    add_task(ada, "Due yesterday", due_at=datetime(2026, 3, 11, 14, 59, tzinfo=UTC), due_all_day=True)
    # Due 00:15 today in Tokyo: today, and already overdue.
    add_task(ada, "Due 00:15", due_at=datetime(2026, 3, 11, 15, 15, tzinfo=UTC))
    # Done: neither overdue nor due today; completed at 00:00 Thursday this week.
    done_today = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
    add_task(
        ada,
        "Done",
        due_at=datetime(2026, 3, 12, 14, 59, tzinfo=UTC),
        status=Status.DONE,
        completed_at=done_today,
    )
    # Completed 00:30 Monday 9 March in Tokyo (Sunday in UTC): this week.
    add_task(ada, "Done Monday", status=Status.DONE, completed_at=datetime(2026, 3, 8, 15, 30, tzinfo=UTC))
    # Completed 23:30 Sunday 8 March in Tokyo (Sunday in UTC too): last week.
    add_task(ada, "Done Sunday", status=Status.DONE, completed_at=datetime(2026, 3, 8, 14, 30, tzinfo=UTC))
    add_task(ada, "Working on it", status=Status.IN_PROGRESS)
    add_task(ada, "Deleted", due_at=datetime(2026, 3, 1, tzinfo=UTC), deleted_at=NOW)
    add_task(other_user, "Bob's overdue", due_at=datetime(2026, 3, 1, tzinfo=UTC))
    return ada


def test_counts_follow_the_users_local_day_around_midnight(tasks_around_midnight):
    result = summary(tasks_around_midnight, now=NOW)
    assert result.overdue == 2
    assert result.due_today == 2
    assert result.completed_this_week == 2
    assert result.by_status == {"todo": 3, "in_progress": 1, "done": 3}
    assert [t.title for t in result.overdue_tasks] == ["Due yesterday", "Due 00:15"]
    assert [t.title for t in result.due_today_tasks] == ["Due 00:15", "Due today"]


def test_an_hour_earlier_it_is_still_wednesday_in_tokyo(tasks_around_midnight):
    result = summary(tasks_around_midnight, now=datetime(2026, 3, 11, 14, 30, tzinfo=UTC))
    assert result.overdue == 0
    assert [t.title for t in result.due_today_tasks] == ["Due yesterday"]


def test_the_dashboard_page_shows_the_counts_and_links_to_the_lists(client, tasks_around_midnight):
    # Seen later (today, in real time): every open task with a due date in March 2026 is overdue.
    body = client.get("/").get_data(as_text=True)
    pattern = r'<span class="stat-number[^"]*">(\d+)</span> <span class="stat-label">([^<]+)</span>'
    numbers = {label: int(number) for number, label in re.findall(pattern, body)}
    assert numbers == {
        "Overdue": 3,
        "Due today": 0,
        "Done this week": 0,
        "To do": 3,
        "In progress": 1,
        "Done": 3,
    }
    assert 'href="/tasks?due=overdue"' in body
    assert "Due yesterday" in body
    assert "Bob" not in body


def test_the_dashboard_of_a_new_user_is_calm(client, user):
    body = client.get("/").get_data(as_text=True)
    assert "Nothing overdue." in body


def test_the_dashboard_needs_login(client):
    response = client.get("/")
    assert response.status_code in (302, 303)
