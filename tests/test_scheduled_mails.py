"""Daily, weekly and overdue mails: at the right moment in each user's own time zone, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from jobs.reminders import plan_overdue_mails, run_sweep
from tests.support import count, make_user
from webapp.extensions import db
from webapp.models import Task
from webapp.reminders.kinds import MailKind
from webapp.reminders.models import Delivery, Notification
from webapp.tasks.services import create_task, toggle_done
from webapp.timezones import END_OF_DAY, local_to_utc, monday_of


def task_due(user, title: str, day: date, *, done: bool = False) -> Task:
    task = create_task(user, title)
    task.due_at, task.due_all_day = local_to_utc(day, END_OF_DAY, user.timezone), True
    db.session.commit()
    if done:
        toggle_done(task)
    return task


def planned(kind: MailKind) -> list[str]:
    return list(db.session.scalars(select(Delivery.key).where(Delivery.kind == kind).order_by(Delivery.key)))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "day", "nine_local_in_utc"),
    [
        ("Europe/London", date(2026, 3, 28), utc(2026, 3, 28, 9, 0)),  # GMT, the day before the change
        ("Europe/London", date(2026, 3, 29), utc(2026, 3, 29, 8, 0)),  # clocks went forward at 01:00
        ("Europe/London", date(2026, 10, 25), utc(2026, 10, 25, 9, 0)),  # clocks went back at 02:00
        ("America/New_York", date(2026, 3, 8), utc(2026, 3, 8, 13, 0)),  # EDT starts at 02:00
        ("America/New_York", date(2026, 11, 1), utc(2026, 11, 1, 14, 0)),  # EST again
        ("Australia/Sydney", date(2026, 4, 5), utc(2026, 4, 4, 23, 0)),  # AEDT ends at 03:00
        ("America/Santiago", date(2026, 9, 6), utc(2026, 9, 6, 12, 0)),  # midnight does not exist
    ],
)
def test_the_due_tomorrow_mail_goes_at_nine_local_time_across_dst_changes(
    smtp_sink, app, run_jobs, timezone, day, nine_local_in_utc
):
    user = make_user(timezone=timezone)
    task_due(user, "Pay the rent", day + timedelta(days=1))
    task_due(user, "Due today, not tomorrow", day)
    task_due(user, "Done already", day + timedelta(days=1), done=True)

    run_sweep(nine_local_in_utc - timedelta(minutes=1))
    assert planned(MailKind.DUE_TOMORROW) == [], "not before 09:00 local"
    run_sweep(nine_local_in_utc)
    run_sweep(nine_local_in_utc + timedelta(hours=2))
    run_jobs()

    assert planned(MailKind.DUE_TOMORROW) == [f"due-tomorrow:{user.id}:{day + timedelta(days=1)}"]
    [mail] = smtp_sink.received
    assert mail.subject == "Due tomorrow: 1 task"
    assert "Pay the rent" in mail.text
    assert "Due today" not in mail.text and "Done already" not in mail.text


def test_the_due_tomorrow_mail_comes_every_day_and_not_when_nothing_is_due(smtp_sink, app, run_jobs):
    user = make_user(timezone="Europe/Paris")
    task_due(user, "Dentist", date(2026, 11, 25))
    for day in (date(2026, 11, 24), date(2026, 11, 25)):
        run_sweep(local_to_utc(day, time(9, 0), "Europe/Paris"))
    run_jobs()
    assert [mail.subject for mail in smtp_sink.received] == ["Due tomorrow: 1 task"]
    assert count(Notification) == 1


def test_a_scheduler_back_after_an_hour_catches_up_but_not_half_a_day_later(smtp_sink, app, run_jobs):
    late, too_late = make_user("late@example.com"), make_user("toolate@example.com", timezone="Asia/Tokyo")
    task_due(late, "Late but useful", date(2026, 11, 25))
    task_due(too_late, "Too late to say", date(2026, 11, 25))
    run_sweep(utc(2026, 11, 24, 12, 5))  # 12:05 in London (three hours late); 21:05 in Tokyo (twelve)
    assert planned(MailKind.DUE_TOMORROW) == [f"due-tomorrow:{late.id}:2026-11-25"]


def test_switched_off_mails_are_not_planned(smtp_sink, app, run_jobs):
    user = make_user(mail_due_tomorrow=False, mail_overdue=False, mail_weekly_digest=False)
    task_due(user, "Tomorrow", date(2026, 11, 24))
    task_due(user, "Yesterday", date(2026, 11, 22))
    run_sweep(utc(2026, 11, 23, 9, 30))  # Monday 09:30 in London: daily and weekly time
    plan_overdue_mails(utc(2026, 11, 23, 9, 30))
    run_jobs()
    assert smtp_sink.received == []
    assert count(Delivery) == 0


def test_the_weekly_digest_goes_on_monday_at_eight_local_once(smtp_sink, app, run_jobs):
    user = make_user(timezone="America/New_York", digest_planned_on=None)  # an account from before
    finished = task_due(user, "Ship the release", date(2026, 11, 20))
    finished.status, finished.completed_at = "done", utc(2026, 11, 20, 15, 0)  # Friday last week
    db.session.commit()
    task_due(user, "Write the notes", date(2026, 11, 30))

    monday_eight = utc(2026, 11, 23, 13, 0)  # 08:00 EST
    run_sweep(monday_eight - timedelta(minutes=1))
    assert planned(MailKind.WEEKLY_DIGEST) == []
    run_sweep(monday_eight)
    run_sweep(monday_eight + timedelta(hours=3))
    run_sweep(monday_eight + timedelta(days=1))
    run_jobs()
    [mail] = smtp_sink.received
    assert mail.subject == "Your week in Tasklane"
    assert "Ship the release" in mail.text and "Write the notes" in mail.text
    run_sweep(monday_eight + timedelta(days=7))
    assert len(planned(MailKind.WEEKLY_DIGEST)) == 2


def test_an_overdue_task_is_mentioned_at_most_once_a_day(smtp_sink, app, run_jobs):
    user = make_user(timezone="Europe/Berlin")
    task_due(user, "File taxes", date(2026, 11, 20))
    task_due(user, "Already done", date(2026, 11, 20), done=True)

    for hour in (7, 8, 9, 22):  # hourly runs across one Berlin day …
        plan_overdue_mails(utc(2026, 11, 23, hour, 2))
    run_jobs()
    assert [mail.subject for mail in smtp_sink.received] == ["Overdue: 1 task"]
    assert "File taxes" in smtp_sink.received[0].text

    late = task_due(user, "Became overdue later", date(2026, 11, 22))
    plan_overdue_mails(utc(2026, 11, 23, 22, 30))  # 23:30 Berlin: only the newly overdue one
    plan_overdue_mails(utc(2026, 11, 23, 23, 2))  # 00:02 Berlin, the next day: both again
    run_jobs()
    assert [mail.subject for mail in smtp_sink.received] == [
        "Overdue: 1 task",
        "Overdue: 1 task",
        "Overdue: 2 tasks",
    ]
    assert late.title in smtp_sink.received[1].text


def test_a_new_account_gets_its_first_digest_the_next_monday(smtp_sink, app):
    user = make_user(timezone="UTC")
    this_monday = monday_of(datetime.now(UTC).date())
    run_sweep(datetime.combine(this_monday, time(8, 30), UTC))
    assert planned(MailKind.WEEKLY_DIGEST) == [], "no digest of a week before the account existed"
    next_monday = this_monday + timedelta(days=7)
    run_sweep(datetime.combine(next_monday, time(8, 30), UTC))
    assert planned(MailKind.WEEKLY_DIGEST) == [f"weekly-digest:{user.id}:{next_monday}"]


@pytest.fixture
def planning_batches_of_three(app_config):
    app_config["SWEEP_BATCH"] = 3  # 8 users make three batches, the last one short


def test_daily_mails_planned_batch_by_batch_reach_every_user_once(
    planning_batches_of_three, smtp_sink, app, run_jobs
):
    day = date(2026, 11, 24)
    users = [make_user(f"user{n}@example.com", timezone="Europe/Berlin") for n in range(8)]
    for user in users[:7]:
        task_due(user, f"Call {user.email}", day + timedelta(days=1))
    users[6].mail_due_tomorrow = False  # a task due, but the mail switched off
    db.session.commit()  # users[7] has nothing due tomorrow

    nine = local_to_utc(day, time(9, 0), "Europe/Berlin")
    assert run_sweep(nine)["due_tomorrow"] == 6
    assert run_sweep(nine + timedelta(minutes=1))["due_tomorrow"] == 0
    run_jobs()

    assert sorted(mail.to for mail in smtp_sink.received) == sorted(user.email for user in users[:6])
