"""Reminders in a real browser on the real stack: the scheduler, the worker and the outbox."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import account_menu, add_task, in_the_app, look, open_mail, sign_up

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")
MAIL_TIMEOUT = 150  # a reminder in ≤ 2 minutes, the every-minute sweep, then the send job
BELL_TIMEOUT = 45_000  # the bell polls every 30 s


def _open_task(page, title: str) -> int:
    """From the task list to the task's own page; returns the task id."""
    page.locator("#task-rows").get_by_role("link", name=title, exact=True).click()
    page.wait_for_url(re.compile(r"/tasks/\d+"))
    expect(page.get_by_role("heading", name="Reminders")).to_be_visible()
    return int(re.search(r"/tasks/(\d+)", page.url).group(1))


def _reminders(page):
    return page.locator("section.reminders")


def _next_whole_minute(zone: ZoneInfo, at_least: timedelta = timedelta(seconds=20)) -> datetime:
    """The first whole minute on the local clock that is at least `at_least` from now."""
    soon = datetime.now(zone) + at_least
    return soon.replace(second=0, microsecond=0) + timedelta(minutes=1)


def _unsubscribe_url(live_server, email: str, kind: str) -> str:
    """The link a mail of `kind` to `email` carries, made by the app's own code on its instance."""
    script = (
        "    from webapp.reminders.unsubscribe import unsubscribe_url\n"
        "    print(unsubscribe_url(user_id, sys.argv[2]))\n"
    )
    return in_the_app(live_server, script, email, kind)


def _notify_many(live_server, email: str, count: int, url: str) -> None:
    """`count` unread notifications for `email`, numbered oldest first, each pointing to `url`."""
    script = (
        "    from webapp.reminders.models import Notification\n"
        "    for n in range(1, int(sys.argv[2]) + 1):\n"
        "        key, title = f'e2e:{user_id}:{n}', f'Reminder {n}'\n"
        "        db.session.add(Notification(key=key, user_id=user_id, title=title, body='Water it',\n"
        "                                    url=sys.argv[3]))\n"
        "    db.session.commit()\n"
        "    print('ok')\n"
    )
    in_the_app(live_server, script, email, str(count), url)


def test_a_reminder_set_in_a_minute_arrives_by_mail_and_in_the_bell(new_page, live_server):
    page = new_page(timezone_id="Europe/Berlin")
    sign_up(page, "rosa@example.com", "Rosa")
    page.goto("/tasks")
    add_task(page, "Call the dentist")
    task_id = _open_task(page, "Call the dentist")
    expect(_reminders(page)).to_contain_text("No reminders set.")
    expect(_reminders(page)).to_contain_text("Times are in your time zone, Europe/Berlin.")

    remind_at = _next_whole_minute(BERLIN)
    _reminders(page).get_by_label("Remind me on").fill(remind_at.strftime("%Y-%m-%d"))
    _reminders(page).get_by_label("at", exact=True).fill(remind_at.strftime("%H:%M"))
    page.evaluate("window.stillTheSamePage = true")
    _reminders(page).get_by_role("button", name="Add reminder").click()
    listed = remind_at.strftime("%a %d %b %Y, %H:%M")
    expect(_reminders(page).get_by_role("listitem")).to_have_text(re.compile(re.escape(listed)))
    expect(page.locator("#flash")).to_contain_text(f"We will remind you on {listed}.")
    look(page, "task-reminders")

    mail = page.context.new_page()
    open_mail(mail, "rosa@example.com", "Reminder: Call the dentist", MAIL_TIMEOUT)
    body = mail.locator("pre.outbox-body")
    expect(body).to_contain_text("Call the dentist")
    expect(body.locator(f"a[href='{live_server.url}/tasks/{task_id}']")).to_have_count(1)
    expect(body.locator(f"a[href^='{live_server.url}/unsubscribe/']")).to_have_count(1)
    look(mail, "reminder-mail")
    # The sweep that planned the reminder planned any other notification due (the weekly digest
    # on a Monday) before the mail went out: the count now includes the reminder's.
    mail.goto("/notifications")
    unread = int(re.match(r"\d+", mail.get_by_role("heading", name=re.compile("unread$")).inner_text())[0])
    mail.close()

    # Chromium puts a space before the comma: the badge's hidden text is a separate box.
    bell = page.get_by_role("navigation", name="Account").get_by_role(
        "link", name=re.compile("^Notifications")
    )
    expect(bell).to_have_accessible_name(f"Notifications, {unread} unread", timeout=BELL_TIMEOUT)
    expect(page.locator("#notification-count")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage"), (
        "the bell reloaded the page instead of swapping its badge"
    )

    bell.click()
    page.wait_for_url(re.compile(r"/notifications$"))
    notification = page.locator(".notification", has_text="Reminder: Call the dentist")
    expect(notification).to_contain_text("New")
    expect(page.get_by_role("heading", name=f"{unread} unread")).to_be_visible()
    look(page, "notifications")

    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("heading", name="Nothing unread")).to_be_visible()
    expect(notification).not_to_contain_text("New")
    expect(page.locator("#notification-count")).to_be_hidden()
    expect(bell).to_have_accessible_name("Notifications")
    notification.get_by_role("link", name="Reminder: Call the dentist").click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))


def test_profile_mail_preferences_and_one_click_unsubscribe(new_page, live_server):
    page = new_page(timezone_id="Europe/Berlin")
    sign_up(page, "milo@example.com", "Milo")
    account_menu(page).get_by_role("link", name="Profile").click()
    preferences = page.get_by_role("group", name="E-mails")
    boxes = preferences.get_by_role("checkbox")
    expect(boxes).to_have_count(4)
    for box in boxes.all():
        expect(box).to_be_checked()

    digest = page.get_by_label("E-mail me a weekly digest (Mondays, 08:00)")
    digest.uncheck()
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#flash")).to_contain_text("Your profile is saved.")
    page.reload()
    expect(page.get_by_label("E-mail me a weekly digest (Mondays, 08:00)")).not_to_be_checked()
    expect(page.get_by_label("E-mail me about overdue tasks (at most once a day per task)")).to_be_checked()
    look(page, "profile-mails")

    overdue = page.get_by_label("E-mail me about overdue tasks (at most once a day per task)")
    link = _unsubscribe_url(live_server, "milo@example.com", "overdue")
    page.goto(link)
    expect(page.get_by_role("heading", name="Stop e-mails about overdue tasks?")).to_be_visible()
    look(page, "unsubscribe-confirm")
    page.goto("/profile")
    expect(overdue).to_be_checked()  # opening the link alone switched nothing off

    page.goto(link)
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    expect(page.locator("main")).to_contain_text("You will no longer get e-mails about overdue tasks.")
    look(page, "unsubscribe")
    page.goto("/profile")
    expect(overdue).not_to_be_checked()

    page.goto(link)  # the link again, later: it says so, and the owner may switch it back on
    expect(page.locator("main")).to_contain_text("This was already switched off")
    expect(page.get_by_role("button", name="Unsubscribe")).to_have_count(0)
    page.get_by_role("button", name="Switch it back on").click()
    expect(page).to_have_url(re.compile(r"/profile$"))
    expect(page.locator("#flash")).to_contain_text("You will get e-mails about overdue tasks again.")
    expect(overdue).to_be_checked()
    expect(page.get_by_label("E-mail me a weekly digest (Mondays, 08:00)")).not_to_be_checked()


def test_notifications_page_by_page_and_opening_one(new_page, live_server):
    page = new_page()
    sign_up(page, "iris@example.com", "Iris")
    page.goto("/tasks")
    add_task(page, "Water the plants")
    task_id = _open_task(page, "Water the plants")
    _notify_many(live_server, "iris@example.com", 62, f"/tasks/{task_id}")

    page.goto("/notifications")
    items = page.locator("li.notification")
    expect(items).to_have_count(50)
    expect(items.first).to_contain_text("Reminder 62")
    expect(page.get_by_role("heading", name="62 unread")).to_be_visible()
    older = page.get_by_role("link", name="Older notifications")
    expect(older).to_be_visible()
    look(page, "notifications-pages")

    older.click()
    expect(items).to_have_count(62)
    expect(items.last).to_contain_text("Reminder 1")
    expect(older).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/notifications$"))  # appended in place

    last = items.last
    last.get_by_role("button", name="Mark read: Reminder 1", exact=True).click()
    expect(page.get_by_role("heading", name="61 unread")).to_be_visible()
    expect(last).not_to_contain_text("New")
    expect(items).to_have_count(62)  # the older page stayed
    look(page, "notifications-older")

    bell = page.get_by_role("navigation", name="Account").get_by_role(
        "link", name=re.compile("^Notifications")
    )
    expect(bell).to_have_accessible_name("Notifications, 61 unread")
    page.get_by_role("link", name="Reminder 2", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task_id}$"))
    expect(bell).to_have_accessible_name("Notifications, 60 unread")


def test_older_notifications_without_javascript(new_page, live_server):
    page = new_page(java_script_enabled=False)
    sign_up(page, "nojs-notes@example.com", "Nils")
    _notify_many(live_server, "nojs-notes@example.com", 55, "/tasks?due=tomorrow")

    page.goto("/notifications")
    page.get_by_role("link", name="Older notifications").click()
    expect(page).to_have_url(re.compile(r"/notifications\?before=\d+$"))
    expect(page.locator("li.notification")).to_have_count(5)
    page.get_by_role("button", name="Mark read: Reminder 3", exact=True).click()
    expect(page).to_have_url(re.compile(r"/notifications\?before=\d+$"))
    expect(page.locator("#flash")).to_contain_text("Marked “Reminder 3” as read.")
    expect(page.get_by_role("heading", name="54 unread")).to_be_visible()

    page.get_by_role("link", name="Back to the newest notifications").click()
    expect(page.locator("li.notification").first).to_contain_text("Reminder 55")


def test_reminders_work_with_javascript_off(new_page):
    page = new_page(java_script_enabled=False)
    sign_up(page, "nojs-reminders@example.com", "Noor")
    page.goto("/tasks")
    add_task(page, "Book the train")
    page.get_by_role("link", name="Book the train", exact=True).click()
    page.wait_for_url(re.compile(r"/tasks/\d+"))
    expect(_reminders(page)).to_contain_text("No reminders set.")

    _reminders(page).get_by_role("button", name="In 30 minutes").click()
    expect(page).to_have_url(re.compile(r"/tasks/\d+"))
    expect(page.locator("#flash")).to_contain_text("We will remind you on")
    expect(_reminders(page).get_by_role("listitem")).to_have_count(1)

    _reminders(page).get_by_role("button", name=re.compile("^Remove the reminder on")).click()
    expect(page.locator("#flash")).to_contain_text("Removed the reminder for")
    expect(_reminders(page).get_by_role("listitem")).to_have_count(0)
    expect(_reminders(page)).to_contain_text("No reminders set.")
