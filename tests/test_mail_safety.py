"""What one bad field or one bad delivery can do to mail: nothing to anybody else's.

Control characters are refused where text comes in; a header is built so that no field can add
a header; a delivery that cannot be composed or sent fails alone, and the rest of its batch goes.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, update

from jobs.reminders import run_sweep
from tests.support import NOW, assert_received_exactly, make_reminders, make_user, reminder_ids
from webapp.extensions import db
from webapp.forms import ONE_LINE_MESSAGE
from webapp.models import Project, Task, User
from webapp.reminders.models import Delivery, DeliveryState, Notification
from webapp.tasks.services import create_task

INJECTED = "Pay rent\r\nBcc: everyone@example.com"


def _text(response) -> str:
    return response.get_data(as_text=True)


# --- input: one-line fields refuse control characters ---------------------------------------


@pytest.mark.parametrize("title", [INJECTED, "Pay\nrent", "Pay\trent", "Pay\x1frent", "Pay\u2028rent"])
def test_a_new_task_title_with_a_line_break_or_control_character_is_refused(client, user, title):
    response = client.post("/tasks", data={"title": title})

    assert response.status_code == 422
    assert ONE_LINE_MESSAGE in _text(response)
    assert db.session.scalars(select(Task.title)).all() == []


def test_editing_a_title_or_tags_refuses_control_characters_and_keeps_the_task(client, user):
    task = create_task(user, "Pay rent")
    form = {"title": INJECTED, "status": "todo", "priority": "normal", "project_id": task.project_id}

    bad_title = client.post(f"/tasks/{task.id}/edit", data=form)
    bad_tags = client.post(
        f"/tasks/{task.id}/edit", data={**form, "title": "Pay rent", "tags": "home\r\nwork"}
    )

    assert bad_title.status_code == bad_tags.status_code == 422
    assert ONE_LINE_MESSAGE in _text(bad_title) and ONE_LINE_MESSAGE in _text(bad_tags)
    db.session.expire_all()
    assert db.session.get(Task, task.id).title == "Pay rent"


def test_a_project_name_or_display_name_with_a_line_break_is_refused(client, user):
    project = client.post("/projects", data={"name": "Home\r\nBcc: x@example.com"})
    profile = client.post("/profile", data={"display_name": "Ada\r\nBcc: x@example.com", "timezone": "UTC"})

    assert project.status_code == profile.status_code == 422
    assert ONE_LINE_MESSAGE in _text(project) and ONE_LINE_MESSAGE in _text(profile)
    assert db.session.scalars(select(Project.name)).all() == ["Inbox"]
    db.session.expire_all()
    assert db.session.get(User, user.id).display_name == "Ada"


# --- headers: no field can add one ---------------------------------------------------------


def test_a_title_saved_before_the_check_cannot_add_a_header_to_its_reminder(smtp_sink, app, run_jobs):
    [reminder] = make_reminders(make_user(), 1, NOW)
    db.session.execute(update(Task).values(title=INJECTED))
    db.session.commit()

    run_sweep(NOW)
    run_jobs()

    [mail] = smtp_sink.received
    assert mail.to == "ada@example.com"
    assert mail.subject == "Reminder: Pay rent Bcc: everyone@example.com"
    assert "Bcc" not in mail.headers
    assert mail.message_id in reminder_ids([reminder])


# --- a poisoned delivery fails alone ---------------------------------------------------------


def _poison_payload(delivery: Delivery) -> None:
    delivery.payload = "{not json"


def _poison_task_reference(delivery: Delivery) -> None:
    delivery.payload = json.dumps({"task": "no task_id here"})


def _poison_recipient(delivery: Delivery) -> None:
    db.session.execute(
        update(User)
        .where(User.id == delivery.user_id)
        .values(email="eve@example.com\r\nBcc: all@example.com")
    )


@pytest.mark.parametrize("poison", [_poison_payload, _poison_task_reference, _poison_recipient])
def test_one_poisoned_delivery_in_a_batch_of_200_fails_and_the_other_199_arrive(
    smtp_sink, app, run_jobs, poison
):
    ada, eve = make_user(), make_user("eve@example.com")
    [poisoned] = make_reminders(eve, 1, NOW)  # the lowest id: it heads the batch
    others = make_reminders(ada, 199, NOW)
    run_sweep(NOW)  # plans and leases all 200 to one send job …
    poison(db.session.scalar(select(Delivery).where(Delivery.key == f"reminder:{poisoned.id}")))
    db.session.commit()  # … whose first delivery then turns out to be unsendable

    run_jobs()

    assert_received_exactly(smtp_sink, reminder_ids(others))
    db.session.expire_all()
    failed = db.session.scalar(select(Delivery).where(Delivery.key == f"reminder:{poisoned.id}"))
    assert failed.state == DeliveryState.FAILED and failed.last_error
    assert failed.attempts == 1, "failed for good at once: it never heads a batch again"
    assert db.session.scalar(select(Notification.title).where(Notification.key == failed.key))
