"""A user's tasks: add, edit, complete, move, delete and undo, and nobody else's."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from webapp.extensions import db
from webapp.models import Priority, Project, Status, Tag, Task

from .support import add_task, titles


def _task(title: str) -> Task:
    return db.session.scalar(db.select(Task).filter_by(title=title))


def _edit_data(**changes) -> dict:
    data = {
        "title": "Buy milk",
        "notes": "",
        "status": "todo",
        "priority": "normal",
        "due_date": "",
        "due_time": "",
        "tags": "",
        "project_id": "",
    }
    data.update(changes)
    return data


@pytest.fixture
def work(user) -> Project:
    project = Project(owner_id=user.id, name="Work")
    db.session.add(project)
    db.session.commit()
    return project


# --- adding --------------------------------------------------------------------------------------


def test_adding_a_task_with_only_a_title_puts_it_in_the_inbox(client, user):
    response = client.post("/tasks", data={"title": "  Buy milk  "})
    assert response.status_code == 303
    task = _task("Buy milk")
    assert task.project.is_inbox
    assert task.status == Status.TODO
    assert task.priority == Priority.NORMAL
    assert "Buy milk" in client.get("/tasks").get_data(as_text=True)


def test_adding_a_task_to_a_chosen_project(client, user, work):
    client.post("/tasks", data={"title": "Write report", "project_id": str(work.id)})
    assert _task("Write report").project_id == work.id


def test_adding_with_htmx_answers_the_new_row(client, user):
    response = client.post("/tasks", data={"title": "Buy milk"}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 201
    assert body.lstrip().startswith('<li class="task-row"')
    assert "<html" not in body


@pytest.mark.parametrize("title", ["", "   ", "x" * 201])
def test_adding_a_task_with_a_bad_title_is_refused(client, user, title):
    response = client.post("/tasks", data={"title": title})
    assert response.status_code == 422
    assert "title" in response.get_data(as_text=True).lower()
    assert db.session.scalar(db.select(db.func.count()).select_from(Task)) == 0


def test_adding_a_task_with_a_bad_title_via_htmx_rerenders_the_form_in_place(client, user):
    response = client.post("/tasks", data={"title": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#new-task"
    assert "Give the task a title." in response.get_data(as_text=True)


def test_adding_a_task_to_an_unknown_project_is_refused(client, user, other_user):
    bobs_inbox = db.session.scalar(db.select(Project).filter_by(owner_id=other_user.id))
    for project_id in ("999999", "abc", str(bobs_inbox.id)):
        response = client.post("/tasks", data={"title": "Sneaky", "project_id": project_id})
        assert response.status_code == 422
        assert "Choose one of your projects." in response.get_data(as_text=True)
    assert _task("Sneaky") is None


def test_adding_a_task_into_an_archived_project_is_refused(client, user, work):
    work.archived_at = datetime.now(UTC)
    db.session.commit()
    response = client.post("/tasks", data={"title": "Old", "project_id": str(work.id)})
    assert response.status_code == 422
    assert _task("Old") is None


def test_task_titles_are_escaped(client, user):
    client.post("/tasks", data={"title": "<script>alert(1)</script>"})
    body = client.get("/tasks").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


# --- editing -------------------------------------------------------------------------------------


def test_editing_a_task_saves_every_field(client, user, work):
    task = add_task(user, "Buy milk")
    response = client.post(
        f"/tasks/{task.id}/edit",
        data=_edit_data(
            title="Buy oat milk",
            notes="The barista one",
            status="in_progress",
            priority="urgent",
            due_date="2026-07-01",
            tags="Errands, home , errands",
            project_id=str(work.id),
        ),
    )
    assert response.status_code == 303
    db.session.refresh(task)
    assert task.title == "Buy oat milk"
    assert task.notes == "The barista one"
    assert task.status == Status.IN_PROGRESS
    assert task.priority == Priority.URGENT
    assert task.project_id == work.id
    assert [tag.name for tag in task.tags] == ["errands", "home"]
    # A date without a time: due by 23:59 that day in London (BST in July), stored in UTC.
    assert task.due_at == datetime(2026, 7, 1, 22, 59, tzinfo=UTC)
    assert task.due_all_day is True


def test_a_due_time_is_that_local_time_stored_in_utc(client, user):
    task = add_task(user, "Call mum")
    client.post(
        f"/tasks/{task.id}/edit",
        data=_edit_data(
            title="Call mum", due_date="2026-01-15", due_time="09:30", project_id=str(task.project_id)
        ),
    )
    db.session.refresh(task)
    assert task.due_at == datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    assert task.due_all_day is False


def test_the_edit_form_shows_the_due_date_in_the_users_zone(client, user):
    task = add_task(user, "Call mum", due_at=datetime(2026, 7, 1, 8, 30, tzinfo=UTC), due_all_day=False)
    body = client.get(f"/tasks/{task.id}/edit").get_data(as_text=True)
    assert 'value="2026-07-01"' in body
    assert 'value="09:30"' in body


def test_tags_are_shared_per_user_and_created_on_demand(client, user):
    first = add_task(user, "One")
    second = add_task(user, "Two")
    inbox = str(first.project_id)
    client.post(f"/tasks/{first.id}/edit", data=_edit_data(title="One", tags="home", project_id=inbox))
    client.post(
        f"/tasks/{second.id}/edit", data=_edit_data(title="Two", tags="HOME, garden", project_id=inbox)
    )
    assert sorted(db.session.scalars(db.select(Tag.name).filter_by(owner_id=user.id))) == ["garden", "home"]


def test_clearing_the_due_date_and_tags(client, user):
    task = add_task(user, "Buy milk", due_at=datetime(2026, 1, 1, tzinfo=UTC), tags=["home"])
    assert (
        client.post(f"/tasks/{task.id}/edit", data=_edit_data(project_id=str(task.project_id))).status_code
        == 303
    )
    db.session.refresh(task)
    assert task.due_at is None
    assert task.tags == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": ""}, "Give the task a title."),
        ({"title": "x" * 201}, "at most 200 characters"),
        ({"notes": "x" * 10_001}, "at most 10,000 characters"),
        ({"due_date": "2026-02-30"}, "Enter a real date"),
        ({"due_date": "tomorrow"}, "Enter a real date"),
        ({"due_time": "09:00"}, "Add a due date for this time"),
        ({"due_date": "2026-03-01", "due_time": "25:00"}, "Enter a time"),
        ({"status": "blocked"}, "Not a valid choice"),
        ({"priority": "extreme"}, "Not a valid choice"),
        ({"project_id": "999999"}, "Choose one of your projects."),
        ({"project_id": "abc"}, "Choose one of your projects."),
        ({"tags": "x" * 41}, "at most 40 characters"),
        ({"tags": ",".join(f"t{i}" for i in range(21))}, "at most 20 tags"),
    ],
)
def test_bad_input_rerenders_the_form_with_a_message_and_saves_nothing(client, user, changes, message):
    task = add_task(user, "Buy milk", notes="Original")
    data = _edit_data(notes="Changed", project_id=str(task.project_id))
    data.update(changes)
    response = client.post(f"/tasks/{task.id}/edit", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Task, task.id).notes == "Original"
    assert db.session.scalar(db.select(db.func.count()).select_from(Tag)) == 0


def test_notes_of_exactly_10000_characters_are_fine(client, user):
    task = add_task(user, "Buy milk")
    data = _edit_data(notes="x" * 10_000, project_id=str(task.project_id))
    assert client.post(f"/tasks/{task.id}/edit", data=data).status_code == 303


def test_inline_edit_with_htmx_swaps_the_row_for_a_form_and_back(client, user):
    task = add_task(user, "Buy milk")
    form = client.get(f"/tasks/{task.id}/edit", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert form.lstrip().startswith('<li class="task-row is-editing"')
    assert f'hx-post="/tasks/{task.id}/edit"' in form
    saved = client.post(
        f"/tasks/{task.id}/edit",
        data=_edit_data(title="Buy bread", project_id=str(task.project_id)),
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200
    assert "Buy bread" in saved.get_data(as_text=True)
    assert "<html" not in saved.get_data(as_text=True)


def test_the_full_edit_page_works_without_javascript(client, user):
    task = add_task(user, "Buy milk")
    page = client.get(f"/tasks/{task.id}/edit").get_data(as_text=True)
    assert "<html" in page
    assert f'<form class="task-form" method="post" action="/tasks/{task.id}/edit"' in page
    assert 'name="csrf_token"' in page


# --- done, move, delete, undo -------------------------------------------------------------------


def test_one_click_marks_a_task_done_and_another_click_undoes_it(client, user):
    task = add_task(user, "Buy milk", status=Status.IN_PROGRESS)
    response = client.post(f"/tasks/{task.id}/toggle", headers={"HX-Request": "true"})
    assert 'aria-pressed="true"' in response.get_data(as_text=True)
    db.session.refresh(task)
    assert task.status == Status.DONE
    assert task.completed_at is not None
    assert client.post(f"/tasks/{task.id}/toggle").status_code == 303
    db.session.refresh(task)
    assert task.status == Status.TODO
    assert task.completed_at is None


def test_moving_a_task_to_another_project(client, user, work):
    task = add_task(user, "Write report")
    response = client.post(f"/tasks/{task.id}/move", data={"project_id": str(work.id)})
    assert response.status_code == 303
    db.session.refresh(task)
    assert task.project_id == work.id


def test_moving_into_an_archived_project_is_a_conflict(client, user, work):
    task = add_task(user, "Write report")
    work.archived_at = datetime.now(UTC)
    db.session.commit()
    response = client.post(f"/tasks/{task.id}/move", data={"project_id": str(work.id)})
    assert response.status_code == 409
    assert "archived" in response.get_data(as_text=True)


def test_deleting_hides_the_task_and_undo_brings_it_back(client, user):
    task = add_task(user, "Buy milk")
    response = client.post(f"/tasks/{task.id}/delete", data={"next": "/tasks"})
    assert response.status_code == 303
    response = client.get("/tasks")
    page = response.get_data(as_text=True)
    assert "Deleted “Buy milk”." in page
    assert f'action="/tasks/{task.id}/restore"' in page
    assert titles(response) == []
    db.session.refresh(task)
    assert task.deleted_at is not None

    assert client.post(f"/tasks/{task.id}/restore").status_code == 303
    db.session.refresh(task)
    assert task.deleted_at is None
    assert titles(client.get("/tasks")) == ["Buy milk"]


def test_deleting_with_htmx_leaves_an_undo_button_in_the_row(client, user):
    task = add_task(user, "Buy milk")
    deleted = client.post(f"/tasks/{task.id}/delete", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Undo" in deleted
    assert f'formaction="/tasks/{task.id}/restore" hx-post>' in deleted  # hx-post uses the formaction
    restored = client.post(f"/tasks/{task.id}/restore", headers={"HX-Request": "true"})
    assert titles(restored) == ["Buy milk"]


def _task_action_form(page: str) -> dict[str, str]:
    """The fields of the one form that every row's buttons submit (what a browser posts)."""
    form = re.search(r'<form id="ta" method="post" hidden>(.*?)</form>', page).group(1)
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))


def test_the_rows_share_one_csrf_token_and_their_buttons_work_without_javascript(app, client, user):
    first = add_task(user, "Buy milk")
    one_row = client.get("/tasks?status=open").get_data(as_text=True)
    for n in range(5):
        add_task(user, f"Task {n}")
    app.config["WTF_CSRF_ENABLED"] = True  # as in production, now that Ada is logged in
    page = client.get("/tasks?status=open").get_data(as_text=True)
    assert page.count('name="csrf_token"') == one_row.count('name="csrf_token"')

    toggle = f'form="ta" formaction="/tasks/{first.id}/toggle"'
    assert toggle in page
    fields = _task_action_form(page)
    assert client.post(f"/tasks/{first.id}/toggle", data={"next": fields["next"]}).status_code == 400
    response = client.post(f"/tasks/{first.id}/toggle", data=fields)
    assert response.status_code == 303
    assert response.headers["Location"] == "/tasks?status=open"
    db.session.refresh(first)
    assert first.status == Status.DONE


def _text_of(page: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page).group(1)


def test_each_rows_controls_are_named_after_its_task(client, user):
    """The controls name the task by referring to shared words and to the row's title
    (aria-labelledby), which must be on the page the rows land in, fragments included."""
    add_task(user, "Buy milk")
    page = client.get("/tasks").get_data(as_text=True)
    fragment = client.get("/tasks", headers={"HX-Request": "true"}).get_data(as_text=True)
    for rows in (page, fragment):
        names = {
            " ".join(_text_of(page, element_id) for element_id in ids.split())
            for ids in re.findall(r'aria-labelledby="([^"]+)"', rows)
        }
        assert names == {"Done: Buy milk", "Edit Buy milk", "Delete Buy milk"}


def test_the_undo_button_of_a_row_deleted_with_htmx_works_without_javascript(app, client, user):
    task = add_task(user, "Buy milk")
    app.config["WTF_CSRF_ENABLED"] = True
    page = client.get("/tasks").get_data(as_text=True)
    token = _task_action_form(page)["csrf_token"]
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    deleted = client.post(f"/tasks/{task.id}/delete", headers=headers).get_data(as_text=True)
    form_id, action = re.search(r'<button [^>]*form="([^"]+)" formaction="([^"]+)"', deleted).groups()
    assert f'<form id="{form_id}" method="post" hidden>' in page
    assert client.post(action, data=_task_action_form(page)).status_code == 303
    db.session.refresh(task)
    assert task.deleted_at is None


def test_a_deleted_task_cannot_be_edited_or_toggled(client, user):
    task = add_task(user, "Buy milk", deleted_at=datetime.now(UTC))
    assert client.get(f"/tasks/{task.id}/edit").status_code == 404
    assert client.post(f"/tasks/{task.id}/toggle").status_code == 404


# --- nobody else's tasks -------------------------------------------------------------------------


def _bobs_task(other_user, **fields) -> Task:
    return add_task(other_user, "Bob's secret", notes="Bob's notes", **fields)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/tasks/{id}", None),
        ("get", "/tasks/{id}/edit", None),
        ("post", "/tasks/{id}/edit", {"title": "Hacked", "status": "done", "priority": "low"}),
        ("post", "/tasks/{id}/toggle", {}),
        ("post", "/tasks/{id}/delete", {}),
        ("post", "/tasks/{id}/restore", {}),
        ("post", "/tasks/{id}/move", {"project_id": "{own_project}"}),
    ],
)
def test_another_users_task_is_not_found_for_every_route(client, user, other_user, method, path, data):
    bobs = _bobs_task(other_user)
    own_project = db.session.scalar(db.select(Project).filter_by(owner_id=user.id)).id
    if data and "project_id" in data:
        data = {"project_id": str(own_project)}
    elif data is not None and "title" in data:
        data = {**data, "project_id": str(own_project)}
    response = getattr(client, method)(path.format(id=bobs.id), data=data)
    assert response.status_code == 404
    assert "Bob" not in response.get_data(as_text=True)
    db.session.expire_all()
    unchanged = db.session.get(Task, bobs.id)
    assert (unchanged.title, unchanged.status, unchanged.deleted_at, unchanged.project_id) == (
        "Bob's secret",
        Status.TODO,
        None,
        bobs.project_id,
    )


def test_another_users_deleted_task_cannot_be_restored(client, user, other_user):
    bobs = _bobs_task(other_user, deleted_at=datetime.now(UTC))
    assert client.post(f"/tasks/{bobs.id}/restore").status_code == 404
    db.session.expire_all()
    assert db.session.get(Task, bobs.id).deleted_at is not None


def test_moving_a_task_into_another_users_project_is_not_found(client, user, other_user):
    task = add_task(user, "Mine")
    bobs_project = db.session.scalar(db.select(Project).filter_by(owner_id=other_user.id))
    response = client.post(f"/tasks/{task.id}/move", data={"project_id": str(bobs_project.id)})
    assert response.status_code == 404
    db.session.refresh(task)
    assert task.project_id != bobs_project.id


def test_editing_a_task_into_another_users_project_is_refused(client, user, other_user):
    task = add_task(user, "Mine")
    bobs_project = db.session.scalar(db.select(Project).filter_by(owner_id=other_user.id))
    response = client.post(
        f"/tasks/{task.id}/edit", data=_edit_data(title="Mine", project_id=str(bobs_project.id))
    )
    assert response.status_code == 422
    db.session.refresh(task)
    assert task.project_id != bobs_project.id


def test_bobs_tasks_never_show_in_adas_lists(client, user, other_user):
    _bobs_task(other_user)
    add_task(user, "Ada's task")
    body = client.get("/tasks").get_data(as_text=True)
    assert "Bob&#39;s secret" not in body
    assert "Ada&#39;s task" in body


@pytest.mark.parametrize(
    "path",
    ["/tasks/abc", "/tasks/-1", "/tasks/0", "/tasks/1.5", "/tasks/99999999999999999999", "/tasks/%00/edit"],
)
def test_malformed_task_ids_are_not_found(client, user, path):
    assert client.get(path).status_code == 404
    assert client.post(path + "/toggle").status_code == 404


def test_task_pages_need_login(client):
    assert client.post("/tasks", data={"title": "x"}).status_code in (302, 303, 401)
    assert db.session.scalar(db.select(db.func.count()).select_from(Task)) == 0


def test_each_change_made_with_htmx_names_a_toast_beside_the_events_the_page_follows(client, user):
    task = add_task(user, "Pay “rent” ✓")
    htmx = {"HX-Request": "true"}
    answers = {
        "“Pay “rent” ✓” is done.": client.post(f"/tasks/{task.id}/toggle", headers=htmx),
        "Deleted “Pay “rent” ✓”.": client.post(f"/tasks/{task.id}/delete", headers=htmx),
        "Restored “Pay “rent” ✓”.": client.post(f"/tasks/{task.id}/restore", headers=htmx),
        "Added “Buy milk”.": client.post("/tasks", data={"title": "Buy milk"}, headers=htmx),
    }
    for toast, response in answers.items():
        header = response.headers["HX-Trigger"]
        assert header.isascii()  # a header is Latin-1: the title's quotes and ✓ travel escaped
        assert json.loads(header) == {"tasks-changed": None, "toast": toast}


def test_a_plain_form_gets_the_same_words_as_a_message_and_no_trigger(client, user):
    task = add_task(user, "Buy milk")
    response = client.post(f"/tasks/{task.id}/toggle", data={"next": "/tasks"})
    assert response.status_code == 303
    assert "HX-Trigger" not in response.headers
    assert "“Buy milk” is done." in client.get("/tasks").get_data(as_text=True)
