"""Reminders on a task, the notification bell and list, and the mail choices in the profile."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from jobs.reminders import run_sweep
from webapp.extensions import db
from webapp.formatting import local_datetime
from webapp.models import Task, User
from webapp.reminders import services
from webapp.reminders.models import Notification, Reminder, ReminderState
from webapp.tasks.services import restore_task
from webapp.timezones import local_to_utc, local_today, to_local

from .support import add_task

HTMX = {"HX-Request": "true"}
LONDON = "Europe/London"


def _reminders(task: Task, state: str | None = None) -> list[Reminder]:
    """What the database holds now (the requests ran in their own sessions)."""
    db.session.expire_all()
    query = db.select(Reminder).filter_by(task_id=task.id).order_by(Reminder.remind_at)
    if state:
        query = query.filter_by(state=state)
    return list(db.session.scalars(query))


def _pending(task: Task) -> list[datetime]:
    return [reminder.remind_at for reminder in _reminders(task, ReminderState.PENDING)]


def _remind(client, task: Task, headers=None, **data):
    return client.post(f"/tasks/{task.id}/reminders", data=data, headers=headers or {})


def _set(task: Task, *moments: datetime) -> list[Reminder]:
    reminders = [Reminder(task_id=task.id, owner_id=task.owner_id, remind_at=moment) for moment in moments]
    db.session.add_all(reminders)
    db.session.commit()
    return reminders


def _notify(user: User, title: str, *, read: bool = False, url: str = "") -> Notification:
    notification = Notification(
        key=f"test:{user.id}:{title}",
        user_id=user.id,
        title=title,
        body=f"About {title}",
        url=url,
        read_at=datetime.now(UTC) if read else None,
    )
    db.session.add(notification)
    db.session.commit()
    return notification


def _unread(user: User) -> int:
    db.session.expire_all()
    return services.unread_count(user)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _in_days(days: int, tz: str = LONDON) -> date:
    return local_today(tz) + timedelta(days=days)


@pytest.fixture
def task(user) -> Task:
    return add_task(user, "Call the plumber")


# --- setting reminders -------------------------------------------------------------------------


@pytest.mark.parametrize(("choice", "minutes"), [("30m", 30), ("1h", 60)])
def test_a_quick_choice_sets_a_reminder_that_many_minutes_from_now(client, task, choice, minutes):
    before = datetime.now(UTC)
    response = _remind(client, task, when=choice)
    after = datetime.now(UTC)

    assert response.status_code == 303
    assert response.headers["Location"] == f"/tasks/{task.id}"
    [remind_at] = _pending(task)
    assert before + timedelta(minutes=minutes) <= remind_at <= after + timedelta(minutes=minutes)


def test_tomorrow_means_nine_in_the_morning_in_the_users_zone(client, user, task):
    assert _remind(client, task, when="tomorrow").status_code == 303

    [remind_at] = _pending(task)
    local = to_local(remind_at, LONDON)
    assert local.time() == time(9, 0)
    assert local.date() in (_in_days(1), _in_days(2))  # the request may have run just after midnight


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Saturday before the clocks go forward: Sunday 09:00 BST is 08:00 UTC.
        (datetime(2025, 3, 29, 12, 0, tzinfo=UTC), datetime(2025, 3, 30, 8, 0, tzinfo=UTC)),
        # Saturday before they go back: Sunday 09:00 GMT is 09:00 UTC.
        (datetime(2025, 10, 25, 12, 0, tzinfo=UTC), datetime(2025, 10, 26, 9, 0, tzinfo=UTC)),
        # 23:30 UTC in summer is already the next day in London (00:30 BST).
        (datetime(2025, 7, 1, 23, 30, tzinfo=UTC), datetime(2025, 7, 3, 8, 0, tzinfo=UTC)),
    ],
)
def test_tomorrow_at_nine_follows_daylight_saving_in_the_users_zone(user, now, expected):
    assert services.quick_remind_at("tomorrow", user, now=now) == expected


def test_a_custom_date_and_time_are_read_in_the_users_zone(client, task):
    summer = date(local_today(LONDON).year + 1, 7, 1)
    winter = date(local_today(LONDON).year + 1, 1, 15)

    assert _remind(client, task, when="custom", day=summer.isoformat(), at="14:30").status_code == 303
    assert _remind(client, task, day=winter.isoformat(), at="14:30").status_code == 303  # Enter key

    assert _pending(task) == [
        datetime.combine(winter, time(14, 30), tzinfo=UTC),
        datetime.combine(summer, time(13, 30), tzinfo=UTC),
    ]


def test_setting_a_reminder_says_when_it_will_come(client, task):
    day = _in_days(3)
    response = _remind(client, task, when="custom", day=day.isoformat(), at="08:15")

    page = _text(client.get(response.headers["Location"]))
    assert "We will remind you on" in page
    assert f"{day:%d %b %Y}, 08:15" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"when": "custom", "day": "2020-01-01", "at": "09:00"}, "That time has already passed."),
        ({"when": "custom", "day": "2031-02-30", "at": "09:00"}, "Enter a real date"),
        ({"when": "custom", "day": "2031-02-03", "at": "9 o'clock"}, "Enter a time as HH:MM"),
        ({"when": "custom", "day": "2031-02-03", "at": ""}, "Enter the time"),
        ({"when": "custom", "day": "", "at": "09:00"}, "Enter the date"),
        ({"when": "custom", "day": "", "at": ""}, "Choose when to be reminded."),
        ({}, "Choose when to be reminded."),
        ({"when": "next-year"}, "Choose when to be reminded."),
    ],
)
def test_bad_input_is_422_with_a_message_and_nothing_is_stored(client, task, data, message):
    response = _remind(client, task, **data)

    assert response.status_code == 422
    assert message in _text(response)
    assert f'id="task-{task.id}-reminders"' in _text(response)
    assert _reminders(task) == []


def test_htmx_gets_the_reminders_section_with_the_error(client, task):
    response = _remind(client, task, HTMX, when="custom", day="2020-01-01", at="09:00")

    assert response.status_code == 422
    body = _text(response)
    assert "<html" not in body
    assert body.lstrip().startswith(f'<section class="card reminders" id="task-{task.id}-reminders"')
    assert '<p class="flash flash-error" role="alert">That time has already passed.' in body


def test_a_done_task_takes_no_new_reminders(client, user):
    task = add_task(user, "Already done", status="done")

    response = _remind(client, task, when="1h")

    assert response.status_code == 422
    assert "reopen it to set a reminder" in _text(response)
    assert _reminders(task) == []


def test_a_task_has_at_most_twenty_reminders(client, task):
    start = datetime.now(UTC) + timedelta(days=1)
    _set(task, *(start + timedelta(hours=hour) for hour in range(services.MAX_PENDING_PER_TASK)))

    response = _remind(client, task, when="1h")

    assert response.status_code == 422
    assert "at most 20 reminders" in _text(response)
    assert len(_pending(task)) == services.MAX_PENDING_PER_TASK


def test_adding_with_htmx_returns_the_section_and_a_message_for_the_flash_area(client, task):
    response = _remind(client, task, HTMX, when="30m")

    assert response.status_code == 200
    body = _text(response)
    assert "<html" not in body
    assert f'id="task-{task.id}-reminders"' in body
    assert 'id="flash" hx-swap-oob="innerHTML"' in body
    assert body.count("Remove the reminder on") == 1


# --- seeing and removing reminders -----------------------------------------------------------


def test_the_task_page_lists_pending_reminders_in_the_users_zone(client, task):
    summer = date(local_today(LONDON).year + 1, 7, 1)
    _set(task, datetime.combine(summer, time(8, 0), tzinfo=UTC))

    page = _text(client.get(f"/tasks/{task.id}"))

    start = page.index(f'id="task-{task.id}-reminders"')
    section = page[start : page.index("</section>", start)]
    label = f"{summer:%a %d %b %Y}, 09:00"  # 08:00 UTC is 09:00 BST
    assert label in section
    assert f'aria-label="Remove the reminder on {label}"' in section
    for text in ("In 30 minutes", "In 1 hour", "Tomorrow at 09:00", "Remind me on", ">at</label>"):
        assert text in section
    assert section.count('name="csrf_token"') == 3


def test_the_full_edit_page_has_the_reminders_section_too(client, task):
    page = _text(client.get(f"/tasks/{task.id}/edit"))

    assert f'id="task-{task.id}-reminders"' in page
    assert page.index("</form>") < page.index(f'id="task-{task.id}-reminders"')  # not nested


def test_without_reminders_the_section_says_so(client, task):
    assert "No reminders set." in _text(client.get(f"/tasks/{task.id}"))


def test_removing_a_reminder_cancels_it(client, task):
    [reminder] = _set(task, datetime.now(UTC) + timedelta(days=2))

    response = client.post(f"/reminders/{reminder.id}/delete", data={"next": "/tasks?q=plumber"})

    assert response.status_code == 303
    assert response.headers["Location"] == f"/tasks/{task.id}?next=/tasks?q%3Dplumber"
    assert [r.state for r in _reminders(task)] == [ReminderState.CANCELLED]
    assert "Removed the reminder" in _text(client.get(response.headers["Location"]))


def test_removing_with_htmx_returns_the_section_without_it(client, task):
    [reminder] = _set(task, datetime.now(UTC) + timedelta(days=2))

    response = client.post(f"/reminders/{reminder.id}/delete", headers=HTMX)

    body = _text(response)
    assert response.status_code == 200
    assert "<html" not in body
    assert "No reminders set." in body
    assert _pending(task) == []


def test_a_redirect_back_never_leaves_the_site(client, task):
    response = _remind(client, task, when="1h", next="https://evil.example/")

    assert response.headers["Location"] == f"/tasks/{task.id}"


# --- nobody else's ------------------------------------------------------------------------------


def test_another_user_cannot_add_a_reminder_to_my_task(task, other_client, other_user):
    response = other_client.post(f"/tasks/{task.id}/reminders", data={"when": "1h"})

    assert response.status_code == 404
    assert _reminders(task) == []


def test_another_user_cannot_remove_my_reminder(task, other_client, other_user):
    [reminder] = _set(task, datetime.now(UTC) + timedelta(days=2))

    response = other_client.post(f"/reminders/{reminder.id}/delete")

    assert response.status_code == 404
    assert [r.state for r in _reminders(task)] == [ReminderState.PENDING]


def test_a_reminder_of_a_deleted_task_cannot_be_removed_or_added(client, task):
    [reminder] = _set(task, datetime.now(UTC) + timedelta(days=2))
    client.post(f"/tasks/{task.id}/delete")

    assert client.post(f"/reminders/{reminder.id}/delete").status_code == 404
    assert _remind(client, task, when="1h").status_code == 404


def test_an_id_too_large_for_the_database_is_a_404(client, user):
    assert client.post("/reminders/99999999999/delete").status_code == 404
    assert client.post("/tasks/99999999999/reminders", data={"when": "1h"}).status_code == 404
    assert client.post("/notifications/99999999999/read").status_code == 404


# --- reminders follow the task -----------------------------------------------------------------


def test_completing_the_task_cancels_its_pending_reminders(client, task):
    _set(task, datetime.now(UTC) + timedelta(hours=2), datetime.now(UTC) + timedelta(days=1))

    client.post(f"/tasks/{task.id}/toggle")

    assert _pending(task) == []
    assert len(_reminders(task, ReminderState.CANCELLED)) == 2
    assert "reopen it to set a reminder" in _text(client.get(f"/tasks/{task.id}"))


def _listed(client, task: Task) -> list[str]:
    """The reminder times the task's page lists, as the user reads them."""
    page = _text(client.get(f"/tasks/{task.id}"))
    start = page.index(f'id="task-{task.id}-reminders"')
    section = page[start : page.index("</section>", start)]
    return re.findall(r"<time datetime=\"[^\"]+\">([^<]+)</time>", section)


def _label(moment: datetime) -> str:
    return local_datetime(moment, LONDON)


def _whole_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def test_deleting_the_task_sets_its_reminders_aside_and_undo_brings_them_back(client, task):
    [reminder] = _set(task, _whole_minute(datetime.now(UTC) + timedelta(days=2)))

    client.post(f"/tasks/{task.id}/delete")
    assert _pending(task) == []
    assert client.get(f"/tasks/{task.id}").status_code == 404

    response = client.post(f"/tasks/{task.id}/restore")

    assert response.status_code == 303
    assert _listed(client, task) == [_label(reminder.remind_at)]


def test_restoring_brings_back_the_reminders_still_ahead_and_not_those_whose_time_passed(client, task):
    deleted_at = _whole_minute(datetime.now(UTC))
    soon, later = _set(task, deleted_at + timedelta(hours=1), deleted_at + timedelta(days=2))
    labels = _label(soon.remind_at), _label(later.remind_at)
    assert _listed(client, task) == list(labels)
    client.post(f"/tasks/{task.id}/delete")

    db.session.expire_all()
    restore_task(db.session.get(Task, task.id), now=deleted_at + timedelta(hours=3))

    assert _listed(client, task) == [labels[1]]
    assert [r.state for r in _reminders(task)] == [ReminderState.CANCELLED, ReminderState.PENDING]


def test_reminders_cancelled_by_completing_or_removing_stay_cancelled_after_a_restore(client, task):
    start = _whole_minute(datetime.now(UTC) + timedelta(days=1))
    removed, _completed = _set(task, start, start + timedelta(hours=1))
    client.post(f"/reminders/{removed.id}/delete")
    client.post(f"/tasks/{task.id}/toggle")  # done: the other one is cancelled
    client.post(f"/tasks/{task.id}/toggle")  # reopened: still cancelled

    client.post(f"/tasks/{task.id}/delete")
    client.post(f"/tasks/{task.id}/restore")

    assert _listed(client, task) == []
    assert [r.state for r in _reminders(task)] == [ReminderState.CANCELLED] * 2


def test_the_sweep_never_sends_a_reminder_of_a_deleted_task(smtp_sink, client, user, task, run_jobs):
    due = _whole_minute(datetime.now(UTC) + timedelta(hours=1))
    [aside] = _set(task, due)
    [kept] = _set(add_task(user, "Water the plants"), due)
    client.post(f"/tasks/{task.id}/delete")

    run_sweep(due + timedelta(minutes=1))
    run_jobs()

    assert [mail.subject for mail in smtp_sink.received] == ["Reminder: Water the plants"]
    db.session.expire_all()
    keys = set(db.session.scalars(db.select(Notification.key)))
    assert f"reminder:{kept.id}" in keys
    assert f"reminder:{aside.id}" not in keys
    assert db.session.get(Reminder, aside.id).state == ReminderState.WITH_DELETED_TASK


def test_moving_the_due_time_moves_the_pending_reminders_by_the_same_amount(client, user):
    due_day = _in_days(5)
    task = add_task(user, "Dentist", due_at=local_to_utc(due_day, time(15, 0), LONDON), due_all_day=False)
    first, second = _set(
        task,
        local_to_utc(due_day, time(9, 0), LONDON),
        local_to_utc(due_day - timedelta(days=1), time(18, 0), LONDON),
    )
    expected = sorted(r.remind_at + timedelta(days=2, hours=1, minutes=30) for r in (first, second))

    response = client.post(
        f"/tasks/{task.id}/edit",
        data={
            "title": "Dentist",
            "notes": "",
            "status": "todo",
            "priority": "normal",
            "due_date": (due_day + timedelta(days=2)).isoformat(),
            "due_time": "16:30",
            "tags": "",
            "project_id": str(task.project_id),
        },
    )

    assert response.status_code == 303
    assert _pending(task) == expected


# --- the bell and the notifications page -----------------------------------------------------


def test_the_bell_is_in_the_header_only_when_logged_in(client, user, auth):
    page = _text(client.get("/"))
    assert '<a class="bell" href="/notifications"' in page
    assert 'hx-get="/notifications/count"' in page
    assert 'hx-trigger="load, every 30s, notifications-changed from:body"' in page
    assert '<span class="visually-hidden">Notifications</span>' in page

    auth.logout()
    assert 'class="bell"' not in _text(client.get("/login"))


def test_the_bell_count_fragment_shows_the_unread_count(client, user):
    _notify(user, "One")
    _notify(user, "Two")
    _notify(user, "Three")
    _notify(user, "Old", read=True)

    response = client.get("/notifications/count", headers=HTMX)

    body = _text(response)
    assert response.status_code == 200
    assert "<html" not in body
    assert body.lstrip().startswith('<span id="notification-count"')
    assert '<span class="visually-hidden">Notifications, 3 unread</span>' in body
    assert '<span class="bell-pill" aria-hidden="true">3</span>' in body
    assert "load," not in body  # a swapped-in badge must not ask again at once
    assert 'hx-trigger="every 30s, notifications-changed from:body"' in body
    assert response.headers["Cache-Control"] in ("private, no-cache", "private, no-store")  # asked each time


def test_the_bell_count_is_empty_with_nothing_unread(client, user):
    _notify(user, "Old", read=True)

    body = _text(client.get("/notifications/count", headers=HTMX))

    assert '<span class="visually-hidden">Notifications</span>' in body
    assert "bell-pill" not in body and "unread" not in body


def test_opening_the_count_url_in_a_browser_shows_the_notifications_page(client, user):
    response = client.get("/notifications/count")

    assert response.status_code == 200
    assert "<h1>Notifications</h1>" in _text(response)


def test_the_notifications_page_lists_only_my_own(client, user, other_user):
    mine = _notify(user, "Ada's reminder", url="/tasks/1")
    _notify(other_user, "Bob's reminder")

    page = _text(client.get("/notifications"))

    assert "Ada&#39;s reminder" in page
    assert f'<a href="/notifications/{mine.id}/open">Ada&#39;s reminder</a>' in page
    assert "About Ada&#39;s reminder" in page
    assert "Bob" not in page.replace("Bob&#39;", "")
    assert "Bob&#39;s reminder" not in page


def test_unread_notifications_are_marked_with_words_not_only_colour(client, user):
    _notify(user, "Fresh")
    _notify(user, "Seen", read=True)

    page = _text(client.get("/notifications"))

    assert page.count('<span class="badge badge-new">New</span>') == 1
    assert page.count('aria-label="Mark read: Fresh">Mark read</button>') == 1
    assert "1 unread" in page


def test_no_notifications_says_so(client, user):
    assert "No notifications yet." in _text(client.get("/notifications"))


def test_marking_one_read_updates_the_count_and_tells_the_bell(client, user):
    first = _notify(user, "First")
    _notify(user, "Second")

    response = client.post(f"/notifications/{first.id}/read", headers=HTMX)

    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "notifications-changed"
    body = _text(response)
    assert "<html" not in body
    assert body.lstrip().startswith(f'<li class="notification" id="notification-{first.id}">')  # not new
    assert '<div class="notifications-header" id="notifications-header" hx-swap-oob="true">' in body
    assert '<h2 id="notifications-heading">1 unread</h2>' in body
    assert _unread(user) == 1
    assert ", 1" in re.sub(r"<[^>]+>", "", _text(client.get("/notifications/count", headers=HTMX)))


def test_marking_all_read_clears_the_count(client, user):
    _notify(user, "First")
    _notify(user, "Second")

    response = client.post("/notifications/read", headers=HTMX)

    assert response.headers["HX-Trigger"] == "notifications-changed"
    assert "Nothing unread" in _text(response)
    assert _unread(user) == 0


def test_marking_read_without_javascript_redirects_back(client, user):
    notification = _notify(user, "First")

    response = client.post(f"/notifications/{notification.id}/read")

    assert response.status_code == 303
    assert response.headers["Location"] == "/notifications"
    assert "HX-Trigger" not in response.headers
    assert "Marked “First” as read." in _text(client.get("/notifications"))


def test_marking_all_read_leaves_other_users_alone(client, user, other_user):
    _notify(other_user, "Bob's")

    client.post("/notifications/read")

    assert _unread(other_user) == 1


def test_marking_another_users_notification_is_a_404_and_changes_nothing(user, other_client, other_user):
    notification = _notify(user, "Ada's")

    response = other_client.post(f"/notifications/{notification.id}/read")

    assert response.status_code == 404
    assert _unread(user) == 1


def _bell(client) -> str:
    """What a screen reader announces for the bell."""
    badge = _text(client.get("/notifications/count", headers=HTMX))
    return re.search(r'<span class="visually-hidden">([^<]+)</span>', badge).group(1)


def test_opening_a_notification_marks_it_read_and_goes_to_what_it_is_about(client, user, task):
    opened = _notify(user, "Reminder: Call the plumber", url=f"/tasks/{task.id}")
    _notify(user, "Another one")
    assert _bell(client) == "Notifications, 2 unread"

    response = client.get(f"/notifications/{opened.id}/open")

    assert response.status_code == 303
    assert response.headers["Location"] == f"/tasks/{task.id}"
    assert "<title>Call the plumber · Tasklane</title>" in _text(client.get(response.headers["Location"]))
    assert _bell(client) == "Notifications, 1 unread"
    assert _unread(user) == 1


def test_opening_a_read_notification_again_still_goes_there(client, user):
    opened = _notify(user, "Tasks due tomorrow", url="/tasks?due=tomorrow", read=True)

    response = client.get(f"/notifications/{opened.id}/open")

    assert response.headers["Location"] == "/tasks?due=tomorrow"
    assert _unread(user) == 0


OFF_SITE = [
    "https://evil.example/",
    "//evil.example/tasks",
    "/\\evil.example",
    "javascript:alert(1)",
    "tasks/1",
]


@pytest.mark.parametrize("url", OFF_SITE)
def test_a_notification_pointing_off_the_site_opens_the_notifications_page(client, user, url):
    opened = _notify(user, "Strange", url=url)

    response = client.get(f"/notifications/{opened.id}/open")

    assert response.status_code == 303
    assert response.headers["Location"] == "/notifications"
    assert _unread(user) == 0


def test_opening_another_users_notification_is_a_404_and_changes_nothing(user, other_client, other_user):
    notification = _notify(user, "Ada's", url="/tasks/1")

    assert other_client.get(f"/notifications/{notification.id}/open").status_code == 404
    assert other_client.get("/notifications/99999999999/open").status_code == 404
    assert _unread(user) == 1


def test_opening_a_notification_logged_out_asks_to_log_in_first(app, user):
    notification = _notify(user, "Ada's", url="/tasks/1")

    response = app.test_client().get(f"/notifications/{notification.id}/open")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert _unread(user) == 1


# --- notifications page by page -------------------------------------------------------------------


@pytest.fixture
def small_pages(app_config):
    app_config["NOTIFICATIONS_PAGE_SIZE"] = 3


def _notify_many(user: User, count: int, prefix: str = "Note") -> list[Notification]:
    return [_notify(user, f"{prefix} {n}", read=n % 2 == 0) for n in range(1, count + 1)]


def _shown(response) -> list[str]:
    """The titles of the notifications a page shows, top to bottom."""
    titles = re.findall(r'<p class="notification-title">(.*?)</p>', _text(response), re.S)
    return [re.sub(r"<[^>]+>|\bNew\b", "", title).strip() for title in titles]


def _older_link(response) -> str | None:
    link = re.search(r'<li class="load-more">\s*<a class="button secondary" href="([^"]+)"', _text(response))
    return link.group(1) if link else None


def test_the_page_shows_the_newest_fifty_and_a_link_to_older_ones(client, user):
    _notify_many(user, 51)

    first = client.get("/notifications")
    older = client.get(_older_link(first))

    assert _shown(first) == [f"Note {n}" for n in range(51, 1, -1)]
    assert _shown(older) == ["Note 1"]
    assert _older_link(older) is None


def test_following_older_links_shows_every_notification_once_newest_first(small_pages, client, user):
    notes = _notify_many(user, 7)

    pages, url = [], "/notifications"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(_shown(response))
        url = _older_link(response)

    assert pages == [["Note 7", "Note 6", "Note 5"], ["Note 4", "Note 3", "Note 2"], ["Note 1"]]
    assert _older_link(client.get("/notifications")) == f"/notifications?before={notes[4].id}"


def test_an_older_page_without_javascript_is_a_full_page_with_a_way_back(small_pages, client, user):
    _notify_many(user, 4)

    response = client.get(_older_link(client.get("/notifications")))

    page = _text(response)
    assert "<h1>Notifications</h1>" in page
    assert '<h2 id="notifications-heading">2 unread</h2>' in page  # the count is of all of them
    assert '<a href="/notifications">Back to the newest notifications</a>' in page
    assert _shown(response) == ["Note 1"]


def test_with_htmx_the_older_link_brings_just_the_next_items_to_append(small_pages, client, user):
    _notify_many(user, 7)
    link = _older_link(client.get("/notifications"))

    response = client.get(link, headers=HTMX)

    body = _text(response)
    assert response.status_code == 200
    assert "<html" not in body and "<section" not in body and "notifications-header" not in body
    assert body.lstrip().startswith('<li class="notification')
    assert _shown(response) == ["Note 4", "Note 3", "Note 2"]
    assert 'hx-target="closest li" hx-swap="outerHTML">Older notifications</a>' in body
    assert "HX-Request" in response.vary


def test_older_pages_hold_only_my_own(small_pages, client, user, other_user):
    for n in range(1, 6):
        _notify(user, f"Ada {n}")
        _notify(other_user, f"Bob {n}")

    seen, url = [], "/notifications"
    while url:
        response = client.get(url)
        seen += _shown(response)
        url = _older_link(response)

    assert seen == [f"Ada {n}" for n in range(5, 0, -1)]


def test_past_the_oldest_there_is_nothing_older(client, user):
    [only] = _notify_many(user, 1)

    response = client.get(f"/notifications?before={only.id}")

    assert response.status_code == 200
    assert "No older notifications." in _text(response)


@pytest.mark.parametrize("before", ["abc", "0", "-1", "1.5", "99999999999999", "\uff11\uff12", "12abc"])
def test_a_broken_older_link_is_a_400_with_a_message(client, user, before):
    response = client.get("/notifications", query_string={"before": before})

    assert response.status_code == 400
    assert "That “Older notifications” link is broken." in _text(response)


def test_marking_one_read_on_an_older_page_without_javascript_returns_to_that_page(small_pages, client, user):
    notes = _notify_many(user, 5)
    link = _older_link(client.get("/notifications"))

    page = _text(client.get(link))
    assert '<input type="hidden" name="next" value="' + link + '">' in page
    response = client.post(f"/notifications/{notes[0].id}/read", data={"next": link})

    assert response.status_code == 303
    assert response.headers["Location"] == link
    assert _unread(user) == 2  # of Note 1, 3 and 5


def test_notifications_need_a_login(client, app):
    anonymous = app.test_client()
    assert anonymous.get("/notifications").status_code == 302
    response = anonymous.get("/notifications/count", headers=HTMX)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


# --- mail choices in the profile -----------------------------------------------------------------


def _profile(client, **mail) -> int:
    data = {"display_name": "Ada", "timezone": LONDON, **{name: "y" for name, on in mail.items() if on}}
    return client.post("/profile", data=data).status_code


def _mail_choices(user: User) -> tuple[bool, bool, bool, bool]:
    db.session.expire_all()
    return user.mail_reminders, user.mail_due_tomorrow, user.mail_overdue, user.mail_weekly_digest


def test_the_profile_offers_the_four_mails_ticked_by_default(client, user):
    page = _text(client.get("/profile"))

    for label in (
        "E-mail me the reminders I set on tasks",
        "E-mail me the tasks due tomorrow (daily, 09:00)",
        "E-mail me about overdue tasks (at most once a day per task)",
        "E-mail me a weekly digest (Mondays, 08:00)",
    ):
        assert label in page
    assert page.count('type="checkbox"') == 4
    assert page.count("checked") == 4
    assert _mail_choices(user) == (True, True, True, True)


def test_unticking_a_mail_in_the_profile_saves_false(client, user):
    ticked = {"mail_reminders": True, "mail_due_tomorrow": True, "mail_weekly_digest": True}
    assert _profile(client, mail_overdue=False, **ticked) == 303

    assert _mail_choices(user) == (True, True, False, True)
    assert _text(client.get("/profile")).count("checked") == 3


def test_ticking_it_again_saves_true(client, user):
    _profile(client)
    assert _mail_choices(user) == (False, False, False, False)

    _profile(client, mail_reminders=True, mail_due_tomorrow=True, mail_overdue=True, mail_weekly_digest=True)

    assert _mail_choices(user) == (True, True, True, True)


def test_an_invalid_profile_keeps_the_mail_choices_unchanged(client, user):
    response = client.post("/profile", data={"display_name": "", "timezone": LONDON})

    assert response.status_code == 422
    assert _mail_choices(user) == (True, True, True, True)
