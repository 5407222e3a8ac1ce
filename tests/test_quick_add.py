"""Quick add reads a line as a person means it: the table of phrases, read at a fixed moment in a
given zone, across DST changes and month ends; then the line through the app, with and without
htmx."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.support import add_task, make_user, visible_text
from webapp.extensions import db
from webapp.models import Priority, Project, Task
from webapp.tasks.quick_add import Part, keep_as_text, read_line

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
PROJECTS = ["Home", "Errands", "Home office"]
TUESDAY = "2026-12-01 10:00"  # a Tuesday morning


def _at(local: str, tz_name: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz_name)).astimezone(UTC)


def _shown(due_at: datetime | None, all_day: bool, tz_name: str) -> str | None:
    """The due moment as the user reads it: "2026-12-02" all day, "2026-12-02 09:00" with a time."""
    if due_at is None:
        return None
    local = due_at.astimezone(ZoneInfo(tz_name))
    return local.strftime("%Y-%m-%d" if all_day else "%Y-%m-%d %H:%M")


# (line, local now, zone, title, due as shown or None)
PHRASES = [
    # the words people use for days and times
    ("Pay rent tomorrow 9am", TUESDAY, BERLIN, "Pay rent", "2026-12-02 09:00"),
    ("Pay rent tomorrow at 9am", TUESDAY, BERLIN, "Pay rent", "2026-12-02 09:00"),
    ("Pay rent 9am tomorrow", TUESDAY, BERLIN, "Pay rent", "2026-12-02 09:00"),
    ("Pay rent tomorrow", TUESDAY, BERLIN, "Pay rent", "2026-12-02"),
    ("Water plants today", TUESDAY, BERLIN, "Water plants", "2026-12-01"),
    ("Call mom at 5pm", TUESDAY, BERLIN, "Call mom", "2026-12-01 17:00"),
    ("Call mom 5 pm", TUESDAY, BERLIN, "Call mom", "2026-12-01 17:00"),
    ("Sync 18:00", TUESDAY, BERLIN, "Sync", "2026-12-01 18:00"),
    ("Stand-up 9:15am", TUESDAY, BERLIN, "Stand-up", "2026-12-02 09:15"),  # 9:15 has passed today
    ("Lunch tomorrow noon", TUESDAY, BERLIN, "Lunch", "2026-12-02 12:00"),
    ("Watch the match tonight", TUESDAY, BERLIN, "Watch the match", "2026-12-01 20:00"),
    ("Meet Ana on friday", TUESDAY, BERLIN, "Meet Ana", "2026-12-04"),
    ("Meet Ana friday 3pm", TUESDAY, BERLIN, "Meet Ana", "2026-12-04 15:00"),
    ("Call on fri at 3pm", TUESDAY, BERLIN, "Call", "2026-12-04 15:00"),
    ("Dentist next friday", TUESDAY, BERLIN, "Dentist", "2026-12-04"),
    ("Gym monday at 7am", TUESDAY, BERLIN, "Gym", "2026-12-07 07:00"),
    ("Gym on tuesday", TUESDAY, BERLIN, "Gym", "2026-12-08"),  # today is Tuesday: the next one
    ("Review next week", TUESDAY, BERLIN, "Review", "2026-12-07"),  # next week's Monday
    ("Renew passport in 3 days", TUESDAY, BERLIN, "Renew passport", "2026-12-04"),
    ("Renew passport in a week", TUESDAY, BERLIN, "Renew passport", "2026-12-08"),
    ("Check the oven in 30 minutes", TUESDAY, BERLIN, "Check the oven", "2026-12-01 10:30"),
    ("Check the oven in 2 hours", TUESDAY, BERLIN, "Check the oven", "2026-12-01 12:00"),
    ("Party dec 24 18:00", TUESDAY, BERLIN, "Party", "2026-12-24 18:00"),
    ("Party on 24 December", TUESDAY, BERLIN, "Party", "2026-12-24"),
    ("Party December 24th", TUESDAY, BERLIN, "Party", "2026-12-24"),
    ("Taxes March 5", TUESDAY, BERLIN, "Taxes", "2027-03-05"),  # the next March 5
    ("Taxes mar 5, 2028", TUESDAY, BERLIN, "Taxes", "2028-03-05"),
    ("Plan may 5", TUESDAY, BERLIN, "Plan", "2027-05-05"),
    ("Gifts 2026-12-20", TUESDAY, BERLIN, "Gifts", "2026-12-20"),
    ("Report due tomorrow 5pm", TUESDAY, BERLIN, "Report", "2026-12-02 17:00"),
    ("Report by friday.", TUESDAY, BERLIN, "Report", "2026-12-04"),
    ("tomorrow 9am call the bank", TUESDAY, BERLIN, "call the bank", "2026-12-02 09:00"),
    ("Call bank TOMORROW 9AM", TUESDAY, BERLIN, "Call bank", "2026-12-02 09:00"),
    # a time alone that has passed today means tomorrow's
    ("Take pills 8am", "2026-12-01 20:00", BERLIN, "Take pills", "2026-12-02 08:00"),
    ("Take pills 9pm", "2026-12-01 20:00", BERLIN, "Take pills", "2026-12-01 21:00"),
    # words that only look like dates stay in the title
    ("Buy sun cream", TUESDAY, BERLIN, "Buy sun cream", None),
    ("Fix the sat nav", TUESDAY, BERLIN, "Fix the sat nav", None),
    ("Read a book", TUESDAY, BERLIN, "Read a book", None),
    ("You may go", TUESDAY, BERLIN, "You may go", None),
    ("Plan the march", TUESDAY, BERLIN, "Plan the march", None),
    ("Buy 5 apples", TUESDAY, BERLIN, "Buy 5 apples", None),
    ("Room 101 keys", TUESDAY, BERLIN, "Room 101 keys", None),
    ("Ship feb 30", TUESDAY, BERLIN, "Ship feb 30", None),  # no such day
    ("Time capsule in 9999 years", TUESDAY, BERLIN, "Time capsule in 9999 years", None),
    ("Version 2.0 release", TUESDAY, BERLIN, "Version 2.0 release", None),
    (r"Watch \tomorrow never dies", TUESDAY, BERLIN, "Watch tomorrow never dies", None),
    (r"Watch \tomorrow \9am", TUESDAY, BERLIN, "Watch tomorrow 9am", None),
    # DST: Berlin springs forward on 29 March 2026 (02:00 -> 03:00) and falls back on 25 October
    ("Bake tomorrow 9am", "2026-03-28 12:00", BERLIN, "Bake", "2026-03-29 09:00"),
    ("Bake tomorrow 2:30am", "2026-03-28 12:00", BERLIN, "Bake", "2026-03-29 03:30"),  # skipped hour
    ("Bake in 3 days", "2026-03-27 23:30", BERLIN, "Bake", "2026-03-30"),
    ("Bake tomorrow 9am", "2026-10-24 12:00", BERLIN, "Bake", "2026-10-25 09:00"),
    ("Bake sunday 8pm", "2026-10-23 12:00", BERLIN, "Bake", "2026-10-25 20:00"),
    ("Bake tomorrow 9am", "2026-10-31 12:00", NEW_YORK, "Bake", "2026-11-01 09:00"),
    ("Bake tomorrow 9am", "2026-03-07 22:00", NEW_YORK, "Bake", "2026-03-08 09:00"),
    # month and year ends
    ("Invoice in 1 month", "2026-01-31 09:00", BERLIN, "Invoice", "2026-02-28"),
    ("Invoice tomorrow", "2026-01-31 09:00", BERLIN, "Invoice", "2026-02-01"),
    ("Invoice tomorrow", "2028-02-28 09:00", BERLIN, "Invoice", "2028-02-29"),
    ("Toast tomorrow", "2026-12-31 22:00", NEW_YORK, "Toast", "2027-01-01"),
    ("Toast jan 3", "2026-12-31 22:00", NEW_YORK, "Toast", "2027-01-03"),
    ("Gifts dec 24", "2026-12-31 22:00", NEW_YORK, "Gifts", "2027-12-24"),
    ("Wrap up monday", "2026-12-31 22:00", NEW_YORK, "Wrap up", "2027-01-04"),
    ("Renew in 2 weeks", "2026-12-25 10:00", NEW_YORK, "Renew", "2027-01-08"),
    # the same words in another zone: the user's own day
    ("Pay rent tomorrow 9am", "2026-12-01 23:30", NEW_YORK, "Pay rent", "2026-12-02 09:00"),
    ("Pay rent today", "2026-12-01 23:30", "Pacific/Kiritimati", "Pay rent", "2026-12-01"),
]


@pytest.mark.parametrize(("line", "now", "tz_name", "title", "due"), PHRASES)
def test_quick_add_reads_the_date_a_person_means(line, now, tz_name, title, due):
    understood = read_line(line, tz_name, _at(now, tz_name), PROJECTS)
    assert (understood.title, _shown(understood.due_at, understood.due_all_day, tz_name)) == (title, due)


def test_in_hours_across_the_autumn_change_counts_real_hours():
    now = _at("2026-10-25 01:30", BERLIN)  # summer time; at 03:00 the clocks go back to 02:00
    understood = read_line("Feed the cat in 2 hours", BERLIN, now)
    assert (understood.due_at - now).total_seconds() == 2 * 3600
    assert _shown(understood.due_at, False, BERLIN) == "2026-10-25 02:30"  # the second 02:30


# (line, title, project, tags, priority)
MARKERS = [
    ("Pay rent #home @bills p1", "Pay rent", "Home", ("bills",), Priority.URGENT),
    ("Buy stamps #Errands @Post @post P2", "Buy stamps", "Errands", ("post",), Priority.HIGH),
    ("Order desk #home-office p3", "Order desk", "Home office", (), Priority.NORMAL),
    ("Sort photos #home_office p4", "Sort photos", "Home office", (), Priority.LOW),
    ("Fix tap #garden", "Fix tap #garden", None, (), None),  # no such project: plain text
    ("Call p1 then p2", "Call then p2", None, (), Priority.URGENT),  # the first priority counts
    ("Try p5", "Try p5", None, (), None),
    ("Mail ana@example.com", "Mail ana@example.com", None, (), None),
    (r"Say \#home \@bills \p1", "Say #home @bills p1", None, (), None),
    ("@a @b @c-d @e/f", "", None, ("a", "b", "c-d", "e/f"), None),
]


@pytest.mark.parametrize(("line", "title", "project", "tags", "priority"), MARKERS)
def test_quick_add_reads_project_tags_and_priority(line, title, project, tags, priority):
    understood = read_line(line, BERLIN, _at(TUESDAY, BERLIN), PROJECTS)
    assert (understood.title, understood.project, understood.tags, understood.priority) == (
        title,
        project,
        tags,
        priority,
    )


def test_each_recognised_part_can_go_back_to_being_title_text():
    line = "Pay rent tomorrow 9am #home @bills p1"
    understood = read_line(line, BERLIN, _at(TUESDAY, BERLIN), PROJECTS)
    assert [(part.kind, part.text) for part in understood.parts] == [
        ("due", "tomorrow 9am"),
        ("project", "#home"),
        ("tag", "@bills"),
        ("priority", "p1"),
    ]
    for part in understood.parts:
        again = read_line(keep_as_text(line, part), BERLIN, _at(TUESDAY, BERLIN), PROJECTS)
        assert part.text in again.title
        assert part.kind not in {kept.kind for kept in again.parts}
        assert len(again.parts) == len(understood.parts) - 1


def test_keeping_a_date_as_text_leaves_no_part_of_it_a_date():
    line = "Watch tomorrow 9am"
    kept = keep_as_text(line, Part("due", "tomorrow 9am", 6, 18))
    assert kept == r"Watch \tomorrow \9am"
    assert read_line(kept, BERLIN, _at(TUESDAY, BERLIN)).due_at is None


# Through the app: Ada (Europe/London) types the line


def _quick_add(client, line: str, **headers):
    return client.post("/tasks", data={"title": line, "next": "/tasks"}, headers=headers)


def _own_tasks(user) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.owner_id == user.id)))


def test_quick_add_without_javascript_saves_every_part(client, user):
    db.session.add(Project(owner_id=user.id, name="Home"))
    db.session.commit()

    assert _quick_add(client, "Pay rent tomorrow 9am #home @bills p1").status_code == 303

    [task] = _own_tasks(user)
    assert (task.title, task.project.name, task.priority) == ("Pay rent", "Home", Priority.URGENT)
    assert [tag.name for tag in task.tags] == ["bills"]
    assert _shown(task.due_at, task.due_all_day, user.timezone).endswith(" 09:00")
    page = visible_text(client.get("/tasks"))
    assert "Pay rent" in page and "Tomorrow 09:00" in page and "Urgent" in page


def test_quick_add_with_htmx_answers_the_new_row(client, user):
    response = _quick_add(client, "Book flights next friday @travel p2", **{"HX-Request": "true"})
    assert response.status_code == 201
    row = visible_text(response)
    assert "Book flights" in row and "travel" in row and "High" in row
    assert "next friday" not in row
    [task] = _own_tasks(user)
    assert task.due_all_day and task.due_at is not None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tomorrow 9am p1", "Give the task a title, not only a date"),
        ("x" * 201 + " tomorrow", "at most 200 characters"),
        ("x" * 401, "at most 400 characters"),
        (" ".join(f"@t{n}" for n in range(21)) + " too many", "at most 20 tags"),
    ],
)
def test_a_line_that_leaves_no_good_title_is_refused_and_nothing_is_saved(client, user, line, message):
    response = _quick_add(client, line)
    assert response.status_code == 422
    assert message in visible_text(response)
    assert _own_tasks(user) == []


def test_another_users_project_is_never_named_by_a_line(client, user):
    other = make_user("other-owner@example.com")
    db.session.add(Project(owner_id=other.id, name="Secret"))
    db.session.commit()
    assert _quick_add(client, "Peek #secret").status_code == 303
    [task] = _own_tasks(user)
    assert (task.title, task.project.owner_id) == ("Peek #secret", user.id)


def _preview(client, **query):
    return client.get("/tasks/quick-add", query_string=query, headers={"HX-Request": "true"})


def test_the_preview_says_what_the_line_will_save_in_the_users_zone(client, user):
    response = _preview(client, title="Pay rent tomorrow 9am @bills p1")
    assert response.status_code == 200
    preview = visible_text(response)
    assert "Adds “Pay rent”" in preview
    assert "Due Tomorrow 09:00" in preview and "Tag bills" in preview and "Priority Urgent" in preview
    assert "<html" not in response.get_data(as_text=True)
    assert _own_tasks(user) == []


def test_keep_as_text_answers_the_line_rewritten(client, user):
    response = _preview(client, title="Watch tomorrow 9am p1", keep="6")
    assert re.search(r'value="Watch \\tomorrow \\9am p1"', response.get_data(as_text=True))
    preview = visible_text(response)
    assert "Adds “Watch tomorrow 9am”" in preview and "Priority Urgent" in preview
    assert "Due " not in preview


def test_the_preview_page_works_without_htmx(client, user):
    response = client.get("/tasks/quick-add", query_string={"title": "Call mom at 5pm"})
    assert response.status_code == 200
    page = visible_text(response)
    assert "Quick add" in page and "Adds “Call mom”" in page


def test_a_plain_title_is_saved_as_typed(client, user):
    add_task(user, "Existing")
    assert _quick_add(client, "Read a book").status_code == 303
    assert {task.title for task in _own_tasks(user)} == {"Existing", "Read a book"}
