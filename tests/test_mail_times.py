"""Times in mails read in the recipient's own zone, whoever renders them (a worker has no user)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from jobs.reminders import run_sweep
from tests.support import NOW, make_reminders, make_user
from webapp.extensions import db
from webapp.formatting import MissingZone
from webapp.timezones import local_to_utc, local_today, now_utc

# 09:00 on the day each zone's clocks change next spring (a time that exists on that day).
CLOCK_CHANGE_DAYS = [
    ("Europe/London", date(2027, 3, 28), "Sun 28 Mar 2027 09:00"),
    ("America/New_York", date(2027, 3, 14), "Sun 14 Mar 2027 09:00"),
    ("Australia/Sydney", date(2027, 4, 4), "Sun 4 Apr 2027 09:00"),
    ("Asia/Kathmandu", date(2027, 3, 28), "Sun 28 Mar 2027 09:00"),  # +05:45, no DST: a control
]


def _due(task, day: date, at: time, zone: str) -> None:
    task.due_at, task.due_all_day = local_to_utc(day, at, zone), False
    db.session.commit()


@pytest.mark.parametrize(("zone", "day", "label"), CLOCK_CHANGE_DAYS)
def test_a_reminder_mail_shows_the_due_time_on_the_recipients_clock(
    smtp_sink, app, run_jobs, zone, day, label
):
    user = make_user(f"{zone.split('/')[1].lower()}@example.com", timezone=zone)
    [reminder] = make_reminders(user, 1, NOW)
    _due(reminder.task, day, time(9, 0), zone)

    run_sweep(NOW)
    run_jobs()

    [mail] = smtp_sink.received
    assert f"- Task number 0 (due {label})" in mail.text


def test_users_in_different_zones_each_read_their_own_tomorrow_at_nine(smtp_sink, app, run_jobs):
    for zone in ("Australia/Sydney", "America/Los_Angeles", "Europe/Berlin"):
        user = make_user(f"{zone.split('/')[1].lower()}@example.com", timezone=zone)
        [reminder] = make_reminders(user, 1, NOW)
        _due(reminder.task, local_today(zone) + timedelta(days=1), time(9, 0), zone)

    run_sweep(NOW)
    run_jobs()

    assert len(smtp_sink.received) == 3
    for mail in smtp_sink.received:
        assert "(due Tomorrow 09:00)" in mail.text, mail.text


def test_the_daily_mail_lists_tomorrows_tasks_at_their_local_time(smtp_sink, app, run_jobs):
    zone = "Australia/Sydney"
    user = make_user(timezone=zone)
    tomorrow = local_today(zone) + timedelta(days=1)
    [reminder] = make_reminders(user, 1, now_utc() + timedelta(days=30))  # not due: only its task
    _due(reminder.task, tomorrow, time(9, 0), zone)

    run_sweep(local_to_utc(local_today(zone), time(9, 0), zone))  # 09:00 today in Sydney
    run_jobs()

    [mail] = smtp_sink.received
    assert mail.subject == "Due tomorrow: 1 task"
    assert f"due tomorrow, {tomorrow:%A %-d %B}" in mail.text
    assert "- Task number 0 (due Tomorrow 09:00)" in mail.text


def test_a_template_that_shows_a_time_without_a_zone_fails_loudly(app):
    template = app.jinja_env.from_string("{{ moment | local_datetime }}")
    with pytest.raises(MissingZone):
        template.render(moment=datetime(2026, 11, 30, 12, 0, tzinfo=now_utc().tzinfo))
