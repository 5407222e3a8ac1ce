"""Projects: the Inbox, creating, renaming, archiving and deleting, and nobody else's."""

from __future__ import annotations

import pytest

from webapp.extensions import db
from webapp.models import Project, Task

from .support import add_task, titles


def _project(user, name: str) -> Project | None:
    return db.session.scalar(db.select(Project).filter_by(owner_id=user.id, name=name))


def _inbox(user) -> Project:
    return db.session.scalar(db.select(Project).filter_by(owner_id=user.id, is_inbox=True))


def test_a_new_user_has_an_inbox(client, user):
    body = client.get("/projects").get_data(as_text=True)
    assert "Inbox" in body
    assert "No archived projects." in body


def test_creating_a_project_opens_its_page(client, user):
    response = client.post("/projects", data={"name": " Work "})
    project = _project(user, "Work")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/projects/{project.id}")
    assert "Work" in client.get("/projects").get_data(as_text=True)


def test_creating_a_project_with_htmx_answers_the_updated_lists(client, user):
    response = client.post("/projects", data={"name": "Work"}, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.startswith('<div id="project-lists">')
    assert "Work" in body


@pytest.mark.parametrize("name", ["Work", "work", " WORK "])
def test_a_duplicate_project_name_is_a_conflict_with_a_clear_message(client, user, name):
    client.post("/projects", data={"name": "Work"})
    response = client.post("/projects", data={"name": name})
    assert response.status_code == 409
    assert "You already have a project called" in response.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count()).select_from(Project).filter_by(owner_id=user.id)) == 2


def test_two_users_may_use_the_same_project_name(client, user, other_client, other_user):
    assert client.post("/projects", data={"name": "Work"}).status_code == 303
    assert other_client.post("/projects", data={"name": "Work"}).status_code == 303


@pytest.mark.parametrize(("name", "message"), [("", "Give the project a name."), ("x" * 81, "at most 80")])
def test_a_bad_project_name_is_refused(client, user, name, message):
    response = client.post("/projects", data={"name": name})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_a_name_of_80_characters_is_fine(client, user):
    assert client.post("/projects", data={"name": "x" * 80}).status_code == 303


def test_a_project_page_lists_only_its_tasks(client, user):
    work = Project(owner_id=user.id, name="Work")
    add_task(user, "Write report", project=work)
    add_task(user, "Buy milk")
    response = client.get(f"/projects/{work.id}")
    assert titles(response) == ["Write report"]
    assert "<h1>Work" in response.get_data(as_text=True)


def test_the_inbox_page_lists_the_tasks_added_without_a_project(client, user, other_user):
    work = Project(owner_id=user.id, name="Work")
    add_task(user, "Write report", project=work)
    add_task(user, "Buy milk")
    add_task(other_user, "Bob's errand")
    response = client.get("/inbox")
    assert titles(response) == ["Buy milk"]
    page = response.get_data(as_text=True)
    assert "<h1>Inbox" in page
    assert '<a href="/inbox" aria-current="page">Inbox</a>' in page
    assert titles(client.get("/inbox?q=report")) == []
    assert titles(client.get("/inbox", headers={"HX-Request": "true"})) == ["Buy milk"]


def test_renaming_a_project(client, user):
    client.post("/projects", data={"name": "Work"})
    work = _project(user, "Work")
    assert client.post(f"/projects/{work.id}/rename", data={"name": "Job"}).status_code == 303
    db.session.refresh(work)
    assert work.name == "Job"


def test_renaming_to_an_existing_name_is_a_conflict(client, user):
    client.post("/projects", data={"name": "Work"})
    client.post("/projects", data={"name": "Home"})
    home = _project(user, "Home")
    response = client.post(f"/projects/{home.id}/rename", data={"name": "work"})
    assert response.status_code == 409
    assert "You already have a project called" in response.get_data(as_text=True)
    db.session.refresh(home)
    assert home.name == "Home"


def test_renaming_from_the_project_header_with_htmx_answers_the_header(client, user):
    client.post("/projects", data={"name": "Work"})
    work = _project(user, "Work")
    headers = {"HX-Request": "true", "HX-Target": "project-header"}
    response = client.post(f"/projects/{work.id}/rename", data={"name": "Job"}, headers=headers)
    assert response.get_data(as_text=True).startswith('<header id="project-header"')
    bad = client.post(f"/projects/{work.id}/rename", data={"name": ""}, headers=headers)
    assert bad.status_code == 422
    assert "Give the project a name." in bad.get_data(as_text=True)


def test_the_inbox_cannot_be_renamed_archived_or_deleted(client, user):
    inbox = _inbox(user)
    for method, path, data in [
        ("post", "rename", {"name": "Stuff"}),
        ("post", "archive", {}),
        ("get", "delete", None),
        ("post", "delete", {}),
    ]:
        response = getattr(client, method)(f"/projects/{inbox.id}/{path}", data=data)
        assert response.status_code == 409, path
        assert "The Inbox cannot be" in response.get_data(as_text=True)
    db.session.refresh(inbox)
    assert (inbox.name, inbox.archived_at) == ("Inbox", None)


def test_archiving_and_unarchiving_a_project(client, user):
    client.post("/projects", data={"name": "Work"})
    work = _project(user, "Work")
    assert client.post(f"/projects/{work.id}/archive").status_code == 303
    db.session.refresh(work)
    assert work.archived
    active, archived = client.get("/projects").get_data(as_text=True).split("<h2>Archived</h2>")
    assert ">Work</a>" in archived
    assert ">Work</a>" not in active
    assert f'<option value="{work.id}"' not in client.get("/tasks").get_data(as_text=True).split("</form>")[0]
    client.post(f"/projects/{work.id}/unarchive")
    db.session.refresh(work)
    assert not work.archived


def test_archiving_from_the_projects_page_with_htmx_answers_the_lists(client, user):
    client.post("/projects", data={"name": "Work"})
    work = _project(user, "Work")
    response = client.post(
        f"/projects/{work.id}/archive", headers={"HX-Request": "true", "HX-Target": "project-lists"}
    )
    assert response.get_data(as_text=True).startswith('<div id="project-lists">')


def test_deleting_asks_first_and_says_the_tasks_go_too(client, user):
    work = Project(owner_id=user.id, name="Work")
    add_task(user, "Write report", project=work, tags=["q3"])
    add_task(user, "Send invoice", project=work)
    page = client.get(f"/projects/{work.id}/delete").get_data(as_text=True)
    assert "all 2 of its tasks" in page
    assert f'<form class="actions" method="post" action="/projects/{work.id}/delete">' in page


def test_deleting_a_project_deletes_its_tasks(client, user):
    work = Project(owner_id=user.id, name="Work")
    add_task(user, "Write report", project=work, tags=["q3"])
    add_task(user, "Deleted earlier", project=work, deleted_at=db.func.now())
    add_task(user, "Buy milk")
    response = client.post(f"/projects/{work.id}/delete")
    assert response.status_code == 303
    assert _project(user, "Work") is None
    assert list(db.session.scalars(db.select(Task.title))) == ["Buy milk"]
    assert "Write report" not in client.get("/tasks?q=report").get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", ""),
        ("post", "/rename"),
        ("post", "/archive"),
        ("post", "/unarchive"),
        ("get", "/delete"),
        ("post", "/delete"),
    ],
)
def test_another_users_project_is_not_found_for_every_route(client, user, other_user, method, path):
    bobs = Project(owner_id=other_user.id, name="Bob's plans")
    add_task(other_user, "Bob's secret", project=bobs)
    response = getattr(client, method)(f"/projects/{bobs.id}{path}", data={"name": "Hacked"})
    assert response.status_code == 404
    assert "Bob" not in response.get_data(as_text=True)
    db.session.expire_all()
    unchanged = db.session.get(Project, bobs.id)
    assert (unchanged.name, unchanged.archived_at) == ("Bob's plans", None)
    assert db.session.scalar(db.select(db.func.count()).select_from(Task).filter_by(project_id=bobs.id)) == 1


@pytest.mark.parametrize(
    "path", ["/projects/abc", "/projects/-3", "/projects/99999999999999999999", "/projects/0/delete"]
)
def test_malformed_project_ids_are_not_found(client, user, path):
    assert client.get(path).status_code == 404
