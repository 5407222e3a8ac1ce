"""Odd input a person (or a script) can send: each is refused with a 4xx and a message, never a
500, and nothing is stored. Found by hand and by tests/test_bad_input_properties.py."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade

from webapp.extensions import db
from webapp.models import Task, User
from webapp.reminders.models import Reminder
from webapp.timezones import LATEST

from .support import add_task, assert_sendable, page_text

HTMX = {"HX-Request": "true"}
DATE_RANGE = "Enter a date between 1900-01-01 and 9999-12-29."
BEFORE_THE_BOUNDS = "0d99b534c470"  # the migration before due dates were moved onto the calendar


def _switch_zone(client, zone: str) -> None:
    """Change the zone, confirming what it moves (the profile asks first when tasks are due)."""
    response = client.post("/profile", data={"display_name": "Ada", "timezone": zone, "confirm_zone": zone})
    assert response.status_code == 303, page_text(response)


def _cursor(data) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.fixture
def task(user) -> Task:
    return add_task(user, "Call the plumber")


# --- dates every zone can show ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day"),
    [("Pacific/Pago_Pago", "9999-12-31"), ("Pacific/Kiritimati", "0001-01-01"), ("UTC", "9999-12-30")],
)
def test_a_due_date_past_the_calendar_in_some_zone_is_refused_with_a_message(client, task, zone, day):
    _switch_zone(client, zone)
    data = {"title": "Call the plumber", "status": "todo", "priority": "normal", "due_date": day}
    response = client.post(f"/tasks/{task.id}/edit", data={**data, "project_id": str(task.project_id)})

    assert response.status_code == 422
    assert DATE_RANGE in page_text(response)
    db.session.refresh(task)
    assert task.due_at is None


def test_the_date_fields_tell_the_browser_the_range(client, task):
    page = page_text(client.get(f"/tasks/{task.id}/edit"))
    assert 'min="1900-01-01"' in page
    assert 'max="9999-12-29"' in page


@pytest.mark.parametrize("day", ["9999-12-31", "9999-12-30"])
def test_a_reminder_past_the_calendar_is_refused_with_a_message(client, task, day):
    _switch_zone(client, "Pacific/Pago_Pago")
    response = client.post(f"/tasks/{task.id}/reminders", data={"when": "custom", "day": day, "at": "23:00"})

    assert response.status_code == 422
    assert DATE_RANGE in page_text(response)
    assert db.session.scalar(db.select(db.func.count()).select_from(Reminder)) == 0


def test_the_latest_due_date_shows_in_every_zone(client, user, task):
    _switch_zone(client, "Etc/GMT+12")  # twelve hours behind UTC: the latest UTC moment a day can end
    data = {"title": "Call the plumber", "status": "todo", "priority": "normal", "due_date": "9999-12-29"}
    response = client.post(f"/tasks/{task.id}/edit", data={**data, "project_id": str(task.project_id)})
    assert response.status_code == 303

    _switch_zone(client, "Pacific/Kiritimati")  # fourteen hours ahead
    pages = ["/", "/tasks", f"/tasks/{task.id}", f"/tasks/{task.id}/edit", f"/projects/{task.project_id}"]
    for page in pages:
        assert client.get(page).status_code == 200, page
    assert "Wed 29 Dec 9999" in page_text(client.get("/tasks"))  # all day: it keeps its date


def test_moving_a_due_date_far_ahead_keeps_its_reminders_on_the_calendar(client, user, task):
    task.due_at = datetime(2030, 1, 1, tzinfo=UTC)
    db.session.add(Reminder(task_id=task.id, owner_id=user.id, remind_at=datetime(2040, 1, 1, tzinfo=UTC)))
    db.session.commit()
    data = {"title": "Call the plumber", "status": "todo", "priority": "normal", "due_date": "9999-12-29"}
    response = client.post(f"/tasks/{task.id}/edit", data={**data, "project_id": str(task.project_id)})

    assert response.status_code == 303
    _switch_zone(client, "Pacific/Kiritimati")
    assert client.get(f"/tasks/{task.id}").status_code == 200


def test_a_due_date_saved_before_the_bounds_moves_onto_the_calendar_at_upgrade(client, user):
    end_of_the_calendar = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    task = add_task(user, "Someday", due_at=end_of_the_calendar, due_all_day=True)
    db.session.add(Reminder(task_id=task.id, owner_id=user.id, remind_at=end_of_the_calendar))
    db.session.commit()

    downgrade(revision=BEFORE_THE_BOUNDS)
    upgrade()

    db.session.expire_all()
    assert task.due_at == LATEST
    assert db.session.scalar(db.select(Reminder.remind_at)) == LATEST
    _switch_zone(client, "Pacific/Kiritimati")
    assert "Someday" in page_text(client.get("/tasks"))


# --- zones --------------------------------------------------------------------------------------


def test_a_five_thousand_character_zone_is_refused_on_the_profile(client, user):
    response = client.post("/profile", data={"display_name": "Ada", "timezone": "Europe/" + "x" * 5000})

    assert response.status_code == 422
    assert "is not a time zone we know." in page_text(response)
    db.session.refresh(user)
    assert user.timezone == "Europe/London"


def test_a_five_thousand_character_zone_is_refused_at_sign_up(auth):
    response = auth.signup(timezone="x" * 5000)

    assert response.status_code == 422
    assert "Choose a time zone from the list." in page_text(response)
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


# --- load-more cursors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "sort"),
    [
        (base64.urlsafe_b64encode(b"[" * 1200).decode(), "due"),
        (_cursor({"s": "due", "p": 1, "v": "0001-01-01T00:00:00+05:00", "i": 1}), "due"),
        (_cursor({"s": "due", "p": 1, "v": "9999-12-31T23:59:59-05:00", "i": 1}), "due"),
        (_cursor({"s": "created", "p": 1, "v": "0001-01-01T00:00:00+00:00", "i": 1}), "created"),
        ("A" * 5000, "due"),
    ],
    ids=["nested", "before-year-1-in-utc", "after-year-9999-in-utc", "year-1", "very-long"],
)
def test_a_cursor_nobody_made_is_a_400(client, user, cursor, sort):
    response = client.get("/tasks", query_string={"cursor": cursor, "sort": sort})

    assert response.status_code == 400
    assert "load more" in page_text(response)


# --- redirects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["/\u2215\u2215evil.com", "/tasks?q=café", "/a\x7fb"])
def test_htmx_is_sent_on_with_a_header_a_server_can_send(client, user, target):
    response = client.get("/login", query_string={"next": target}, headers=HTMX)

    assert response.status_code == 204
    assert_sendable(response)
    assert response.headers["HX-Redirect"].startswith("/")
    assert not response.headers["HX-Redirect"].startswith("//")


def test_a_plain_login_goes_on_to_a_path_beyond_ascii(client, user):
    response = client.get("/login", query_string={"next": "/tasks?q=café"})

    assert response.status_code == 303
    assert response.headers["Location"] == "/tasks?q=caf%C3%A9"


# --- text no database can store -------------------------------------------------------------


@pytest.mark.parametrize("query", [{"tag": "home\x00"}, {"q": "milk\x00"}, {"next": "/tasks\x00"}])
def test_a_nul_character_in_a_query_is_a_400(client, user, query):
    assert client.get("/tasks", query_string=query).status_code == 400


def test_a_nul_character_in_a_login_is_a_400(client):
    response = client.post("/login", data={"email": "ada@example.com\x00", "password": "x"})
    assert response.status_code == 400


def test_a_title_with_a_nul_character_is_refused_and_nothing_is_saved(client, user):
    response = client.post("/tasks", data={"title": "Pay\x00rent"})

    assert response.status_code == 400
    assert "NUL character" in page_text(response)
    assert db.session.scalar(db.select(db.func.count()).select_from(Task)) == 0


def test_notes_with_a_nul_character_are_refused_and_nothing_is_saved(client, task):
    data = {"title": "Call the plumber", "status": "todo", "priority": "normal", "notes": "a\x00b"}
    response = client.post(f"/tasks/{task.id}/edit", data={**data, "project_id": str(task.project_id)})

    assert response.status_code == 400
    db.session.refresh(task)
    assert task.notes == ""
