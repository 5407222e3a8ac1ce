"""The time zone on the profile: typed with suggestions, refused when unknown, and a change says
what moves first: timed tasks keep their moment, all-day tasks keep their date."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from webapp.extensions import db
from webapp.models import User
from webapp.reminders.models import Reminder
from webapp.tasks.services import due_instant
from webapp.timezones import now_utc, to_local

from .support import add_task, page_text

HTMX = {"HX-Request": "true"}


def _profile(zone: str, **extra) -> dict[str, str]:
    return {"display_name": "Ada", "timezone": zone, **extra}


def _zone_of(user: User) -> str:
    db.session.expire_all()
    return db.session.get(User, user.id).timezone


def _timed_and_all_day(user: User) -> tuple:
    """Ada (in London) has a call at 17:00 local in ten days, and an all-day task that day."""
    day = (now_utc() + timedelta(days=10)).date()
    call_at, _ = due_instant(day, time(17, 0), "Europe/London")
    all_day_at, _ = due_instant(day, None, "Europe/London")
    call = add_task(user, "Call the bank", due_at=call_at)
    holiday = add_task(user, "Pay rent", due_at=all_day_at, due_all_day=True)
    return day, call, holiday


def test_the_profile_offers_every_zone_as_a_suggestion_of_a_text_field(client, user):
    page = client.get("/profile").get_data(as_text=True)
    field = next(tag for tag in page.split("<input") if 'name="timezone"' in tag)
    assert 'list="timezones"' in field and 'type="text"' in field
    assert '<option value="America/New_York">America/New York</option>' in page
    assert page.count("<option value=") > 400


def test_an_unknown_zone_is_refused_with_a_clear_message(client, user):
    response = client.post("/profile", data=_profile("Mars/Olympus_Mons"))
    assert response.status_code == 422
    assert "“Mars/Olympus_Mons” is not a time zone we know." in page_text(response)
    assert _zone_of(user) == "Europe/London"


def test_a_very_long_or_empty_zone_is_a_422_not_an_error(client, user):
    assert client.post("/profile", data=_profile("x" * 5000)).status_code == 422
    assert client.post("/profile", data=_profile("")).status_code == 422
    assert _zone_of(user) == "Europe/London"


def test_a_zone_typed_in_lower_case_with_spaces_is_understood(client, user):
    response = client.post("/profile", data=_profile("america/new york"))
    assert response.status_code == 303
    assert _zone_of(user) == "America/New_York"
    assert "Your time zone is now America/New_York." in page_text(client.get("/profile"))


def test_changing_the_zone_first_says_what_moves_and_changes_nothing(client, user):
    day, _call, _holiday = _timed_and_all_day(user)
    response = client.post("/profile", data=_profile("America/New_York"))
    assert response.status_code == 200
    text = page_text(response)
    assert "Change your time zone from Europe/London to America/New York?" in text
    assert "1 task with a due time keeps its moment" in text
    assert "1 all-day task keeps its date." in text
    weekday = day.strftime("%a %d %b")
    said = f"“Call the bank”: {weekday}, 17:00 in Europe/London is {weekday}, 12:00 in America/New York"
    assert said in text
    assert _zone_of(user) == "Europe/London"


def test_confirming_keeps_timed_tasks_moment_and_all_day_tasks_date(client, user):
    day, call, holiday = _timed_and_all_day(user)
    call_at = call.due_at
    reminder = Reminder(task_id=holiday.id, owner_id=user.id, remind_at=holiday.due_at - timedelta(hours=3))
    db.session.add(reminder)
    db.session.commit()
    reminder_before = reminder.remind_at

    response = client.post("/profile", data=_profile("America/New_York", confirm_zone="America/New_York"))
    assert response.status_code == 303
    assert _zone_of(user) == "America/New_York"
    db.session.refresh(call)
    db.session.refresh(holiday)
    db.session.refresh(reminder)
    assert call.due_at == call_at  # the same moment
    assert to_local(call.due_at, "America/New_York").time() == time(12, 0)
    assert to_local(holiday.due_at, "America/New_York").date() == day  # the same date
    assert holiday.due_all_day
    assert reminder.remind_at - reminder_before == timedelta(hours=5)  # moved with its task
    text = page_text(client.get("/profile"))
    assert "Tasks with a due time keep their moment (their clock time changed);" in text
    assert "all-day tasks keep their date." in text


def test_the_all_day_task_shows_on_the_same_day_after_the_change(client, user):
    day, _call, holiday = _timed_and_all_day(user)
    client.post("/profile", data=_profile("Pacific/Auckland", confirm_zone="Pacific/Auckland"))
    db.session.refresh(holiday)
    assert to_local(holiday.due_at, "Pacific/Auckland").date() == day


def test_a_confirmation_for_another_zone_asks_again(client, user):
    _timed_and_all_day(user)
    response = client.post("/profile", data=_profile("Asia/Tokyo", confirm_zone="America/New_York"))
    assert response.status_code == 200
    assert "to Asia/Tokyo?" in page_text(response)
    assert _zone_of(user) == "Europe/London"


def test_with_htmx_the_question_replaces_the_form_and_carries_the_mail_switches(client, user):
    _timed_and_all_day(user)
    response = client.post("/profile", data=_profile("Asia/Tokyo", mail_overdue="y"), headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment
    assert 'id="profile-form"' in fragment and 'hx-post="/profile"' in fragment
    assert '<input type="hidden" name="confirm_zone" value="Asia/Tokyo">' in fragment
    assert '<input type="hidden" name="mail_overdue" value="y">' in fragment
    assert 'name="mail_reminders"' not in fragment  # switched off in this answer: stays off


def test_without_dated_tasks_the_zone_changes_at_once(client, user):
    add_task(user, "Someday")
    response = client.post("/profile", data=_profile("Asia/Tokyo"))
    assert response.status_code == 303
    assert _zone_of(user) == "Asia/Tokyo"


def test_the_same_zone_saves_without_asking(client, user):
    _timed_and_all_day(user)
    response = client.post("/profile", data=_profile("Europe/London", display_name="Ada L."))
    assert response.status_code == 303


def test_done_and_deleted_all_day_tasks_keep_their_date_too(client, user):
    day = date(2026, 6, 1)
    due, _ = due_instant(day, None, "Europe/London")
    done = add_task(user, "Done", due_at=due, due_all_day=True, status="done", completed_at=datetime.now(UTC))
    gone = add_task(user, "Gone", due_at=due, due_all_day=True, deleted_at=datetime.now(UTC))
    client.post("/profile", data=_profile("America/Los_Angeles"))  # nothing open moves: no question
    assert _zone_of(user) == "America/Los_Angeles"
    for task in (done, gone):
        db.session.refresh(task)
        assert to_local(task.due_at, "America/Los_Angeles").date() == day
