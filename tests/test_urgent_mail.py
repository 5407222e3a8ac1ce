"""Urgent mail first: a reminder the user set does not wait behind a flood of daily mails."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from jobs import BULK_MAIL_QUEUE, PLANNING_QUEUE, URGENT_MAIL_QUEUE
from jobs.reminders import run_sweep
from tests.support import assert_received_exactly, make_reminders, make_user, reminder_ids
from webapp.extensions import db, queues
from webapp.mail import message_id_for
from webapp.reminders.models import Delivery
from webapp.tasks.services import create_task
from webapp.timezones import END_OF_DAY, local_to_utc

NINE = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # 09:00 in UTC: the daily mails' moment
USERS = 30


@pytest.fixture
def small_batches(app_config):
    app_config["DELIVERY_BATCH"] = 5  # 30 daily mails make six bulk jobs
    return 5


def _users_with_a_task_due_tomorrow(count: int) -> list:
    users = []
    for n in range(count):
        user = make_user(f"u{n}@example.com", timezone="UTC")
        task = create_task(user, f"Renew passport {n}")
        task.due_at, task.due_all_day = local_to_utc(NINE.date() + timedelta(days=1), END_OF_DAY, "UTC"), True
        users.append(user)
    db.session.commit()
    return users


def test_a_reminder_due_during_the_nine_oclock_flood_goes_out_before_it(
    small_batches, smtp_sink, app, run_jobs
):
    users = _users_with_a_task_due_tomorrow(USERS)
    assert run_sweep(NINE)["due_tomorrow"] == USERS  # the flood is planned and waits in the queue
    assert queues.queue(BULK_MAIL_QUEUE).count == USERS // small_batches

    [reminder] = make_reminders(users[0], 1, NINE + timedelta(minutes=1))
    queues.queue(PLANNING_QUEUE).enqueue(run_sweep, (NINE + timedelta(minutes=1)).isoformat())  # next sweep
    run_jobs()  # one worker, taking its queues in order

    assert smtp_sink.received[0].message_id == message_id_for(f"reminder:{reminder.id}")
    expected = {message_id_for(key) for key in db.session.scalars(db.select(Delivery.key))}
    assert_received_exactly(smtp_sink, expected)
    assert expected > reminder_ids([reminder]) and len(expected) == USERS + 1


def test_urgent_and_bulk_mail_are_handed_to_their_own_queues(small_batches, smtp_sink, app):
    users = _users_with_a_task_due_tomorrow(6)
    make_reminders(users[0], 7, NINE)

    run_sweep(datetime.combine(NINE.date(), time(9, 0), UTC))

    assert queues.queue(URGENT_MAIL_QUEUE).count == 2  # 7 reminders in batches of 5
    assert queues.queue(BULK_MAIL_QUEUE).count == 2  # 6 daily mails
