"""Today (overdue and due today) and Upcoming (the next seven days, day by day), in the user's
own zone, open tasks only, and true again right after a change."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest

from tests.support import add_task, visible_text
from webapp.agenda import services
from webapp.models import Status
from webapp.timezones import END_OF_DAY, local_to_utc, local_today, now_utc

HTMX = {"HX-Request": "true"}


def _day(days_from_today: int, at: time = END_OF_DAY, zone: str = "Europe/London"):
    return local_to_utc(local_today(zone) + timedelta(days=days_from_today), at, zone)


def _sections(response) -> dict[str, list[str]]:
    """Each section's heading and the titles of its tasks, in order."""
    html = response.get_data(as_text=True)
    found = {}
    for section in re.findall(r"<section class=\"agenda-day\".*?</section>", html, re.S):
        heading = " ".join(re.sub(r"<[^>]+>", " ", re.search(r"<h2.*?</h2>", section, re.S).group()).split())
        found[heading] = re.findall(r'<a id="[^"]*t\d+" href="[^"]+">([^<]+)</a>', section)
    return found


def test_today_shows_what_is_overdue_and_due_today_and_nothing_else(client, user, other_user):
    add_task(user, "Late report", due_at=now_utc() - timedelta(days=2))
    add_task(user, "Today all day", due_at=_day(0), due_all_day=True)
    add_task(user, "Done today", due_at=_day(0), due_all_day=True, status=Status.DONE)
    add_task(user, "Tomorrow", due_at=_day(1), due_all_day=True)
    add_task(user, "Someday")
    add_task(other_user, "Bob's today", due_at=_day(0), due_all_day=True)

    sections = _sections(client.get("/today"))

    assert sections == {"Overdue": ["Late report"], "Due today": ["Today all day"]}


def test_today_with_nothing_due_says_so(client, user):
    assert "Nothing due today." in visible_text(client.get("/today"))


def test_upcoming_groups_the_next_seven_days_by_the_users_own_day(client, user):
    add_task(user, "Tonight 23:30", due_at=_day(0, time(23, 30)))
    add_task(user, "Tomorrow 00:30", due_at=_day(1, time(0, 30)))
    add_task(user, "In six days", due_at=_day(6), due_all_day=True)
    add_task(user, "In seven days", due_at=_day(7, time(0, 1)))
    add_task(user, "Done tomorrow", due_at=_day(1), due_all_day=True, status=Status.DONE)
    add_task(user, "Overdue", due_at=now_utc() - timedelta(days=1))

    sections = _sections(client.get("/upcoming"))

    assert len(sections) == 7
    headings = list(sections)
    assert headings[0].startswith("Today") and headings[1].startswith("Tomorrow")
    assert list(sections.values()) == [["Tonight 23:30"], ["Tomorrow 00:30"], [], [], [], [], ["In six days"]]
    assert visible_text(client.get("/upcoming")).count("Nothing due.") == 4


def test_a_task_done_from_today_leaves_it_at_the_next_request(client, user):
    task = add_task(user, "Pay rent", due_at=_day(0), due_all_day=True)
    assert _sections(client.get("/today")) == {"Due today": ["Pay rent"]}  # now in the cache

    assert client.post(f"/tasks/{task.id}/toggle", headers=HTMX).status_code == 200

    assert _sections(client.get("/today", headers=HTMX)) == {"Due today": []}


def test_the_htmx_refetch_gets_the_lists_without_the_page(client, user):
    response = client.get("/upcoming", headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="agenda"') and "<html" not in html
    assert 'hx-trigger="tasks-changed from:body"' in html


def test_past_the_shown_number_a_link_leads_to_the_whole_list(client, user, monkeypatch):
    monkeypatch.setattr(services, "SHOWN", 2)
    for n in range(3):
        add_task(user, f"Due {n}", due_at=_day(2), due_all_day=True)
    response = client.get("/upcoming")
    assert sum(len(rows) for rows in _sections(response).values()) == 2
    link = re.search(r'href="([^"]+)">All tasks due in the next 7 days', response.get_data(as_text=True))
    assert link and "due=next7" in link.group(1)
    assert len(re.findall(r"Due \d", visible_text(client.get(link.group(1).replace("&amp;", "&"))))) == 3


@pytest.mark.parametrize("path", ["/today", "/upcoming"])
def test_the_views_need_a_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
