"""The trash: deleted tasks stay 30 days, to restore or delete for good, then the job purges them."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select

from jobs.maintenance import purge_expired_records
from webapp.extensions import db, queues
from webapp.models import Task
from webapp.reminders.models import Reminder
from webapp.tasks.services import KEEP_DELETED_TASKS, days_left
from webapp.timezones import now_utc

from .support import add_task, count, page_text, titles

HTMX = {"HX-Request": "true"}


def _trashed(user, title: str, *, days_ago: float = 0, **fields) -> Task:
    return add_task(user, title, deleted_at=now_utc() - timedelta(days=days_ago), **fields)


def _trash_titles(response) -> list[str]:
    found = re.findall(r'<span id="tt\d+">([^<]*)</span>', response.get_data(as_text=True))
    return [html.unescape(title) for title in found]


def test_the_trash_lists_deleted_tasks_newest_first_with_the_days_left(client, user):
    _trashed(user, "Old invoice", days_ago=29.5)
    _trashed(user, "Buy milk", days_ago=1)
    add_task(user, "Still here")
    response = client.get("/trash")
    assert response.status_code == 200
    assert _trash_titles(response) == ["Buy milk", "Old invoice"]
    text = page_text(response)
    assert "2 deleted tasks" in text
    assert "29 days left" in text
    assert "1 day left" in text
    assert "Still here" not in text


def test_a_task_deleted_from_a_list_shows_in_the_trash(client, user):
    task = add_task(user, "Call the plumber")
    client.post(f"/tasks/{task.id}/delete")
    response = client.get("/trash")
    assert _trash_titles(response) == ["Call the plumber"]
    assert "30 days left" in page_text(response)


def test_days_left_counts_whole_days_up_to_the_purge():
    now = now_utc()
    assert days_left(now, now) == KEEP_DELETED_TASKS.days
    assert days_left(now - timedelta(days=10, hours=1), now) == 20
    assert days_left(now - KEEP_DELETED_TASKS + timedelta(minutes=5), now) == 1


def test_tasks_deleted_over_30_days_ago_are_not_offered(client, user):
    _trashed(user, "Long gone", days_ago=31)
    response = client.get("/trash")
    assert _trash_titles(response) == []
    assert "The trash is empty." in page_text(response)


def test_restoring_puts_the_task_back_in_its_list(client, user):
    task = _trashed(user, "Buy milk", days_ago=2)
    response = client.post(f"/trash/{task.id}/restore")
    assert response.status_code == 303
    assert response.headers["Location"] == "/trash"
    assert "Restored “Buy milk” to Inbox." in page_text(client.get("/trash"))
    assert titles(client.get("/tasks")) == ["Buy milk"]


def test_restoring_with_htmx_swaps_the_row_for_a_message(client, user):
    task = _trashed(user, "Buy milk")
    response = client.post(f"/trash/{task.id}/restore", headers=HTMX)
    assert response.status_code == 200
    assert "Restored “Buy milk” to Inbox." in response.get_data(as_text=True)
    assert "<html" not in response.get_data(as_text=True)
    assert titles(client.get("/tasks")) == ["Buy milk"]


def test_deleting_forever_removes_the_task_and_its_reminders(client, user):
    task = _trashed(user, "Buy milk", tags=["errands"])
    db.session.add(Reminder(task_id=task.id, owner_id=user.id, remind_at=now_utc() + timedelta(days=1)))
    db.session.commit()
    response = client.post(f"/trash/{task.id}/delete", headers=HTMX)
    assert "Deleted “Buy milk” forever." in response.get_data(as_text=True)
    assert count(Task) == 0
    assert count(Reminder) == 0
    assert client.post(f"/tasks/{task.id}/restore").status_code == 404


def test_emptying_the_trash_asks_first_and_then_removes_every_deleted_task(client, user):
    _trashed(user, "One")
    _trashed(user, "Two", days_ago=3)
    add_task(user, "Live")
    confirm = client.get("/trash/empty")
    assert confirm.status_code == 200
    assert "Delete all 2 tasks in the trash forever?" in page_text(confirm)
    assert count(Task) == 3  # asking changed nothing

    response = client.post("/trash/empty")
    assert response.status_code == 303
    assert "Deleted 2 tasks forever. The trash is empty." in page_text(client.get("/trash"))
    assert db.session.scalars(select(Task.title)).all() == ["Live"]


def test_emptying_with_htmx_answers_the_empty_trash(client, user):
    _trashed(user, "One")
    assert 'id="trash-confirm"' in client.get("/trash").get_data(as_text=True)
    fragment = client.get("/trash/empty", headers=HTMX).get_data(as_text=True)
    assert 'hx-post="/trash/empty"' in fragment and "<html" not in fragment
    response = client.post("/trash/empty", headers=HTMX).get_data(as_text=True)
    assert "The trash is empty." in response and "<html" not in response


def test_another_users_trash_is_out_of_reach(client, user, other_user, other_client):
    bobs = _trashed(other_user, "Bob's secret")
    _trashed(user, "Ada's own")
    assert _trash_titles(client.get("/trash")) == ["Ada's own"]
    assert client.post(f"/trash/{bobs.id}/restore").status_code == 404
    assert client.post(f"/trash/{bobs.id}/delete").status_code == 404
    client.post("/trash/empty")
    assert db.session.scalars(select(Task.title)).all() == ["Bob's secret"]


def test_a_live_task_cannot_be_deleted_forever_from_the_trash(client, user):
    task = add_task(user, "Live")
    assert client.post(f"/trash/{task.id}/delete").status_code == 404
    assert count(Task) == 1


def test_the_trash_is_for_signed_in_users(client):
    assert client.get("/trash").status_code in (302, 303)
    assert client.post("/trash/empty").status_code in (302, 303, 400)


def test_the_purge_job_removes_tasks_after_30_days_and_keeps_the_rest(app, user, run_jobs):
    _trashed(user, "Expired", days_ago=30.1)
    _trashed(user, "Recent", days_ago=29.9)
    add_task(user, "Live")
    queues.queue("default").enqueue(purge_expired_records)
    run_jobs()
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Task.title))) == ["Live", "Recent"]
    # Safe to run twice: nothing more goes.
    assert purge_expired_records()["tasks"] == 0
