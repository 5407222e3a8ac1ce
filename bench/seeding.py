"""Task lists to measure: many users with many tasks, inserted in bulk through the app's models
(so the database's own triggers and indexes do their work, as they would for real writes)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.common import progress

WORDS = ("plan", "write", "call", "buy", "fix", "review", "send", "book", "clean", "pay", "read", "draft")
PROJECT_NAMES = ("Home", "Work", "Garden", "Errands")
TAG_NAMES = ("urgent", "phone", "waiting", "errand", "computer", "reading")
START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 5_000


@dataclass(frozen=True)
class SeededUser:
    id: int
    email: str


def _task_row(rng: random.Random, owner_id: int, project_id: int, number: int) -> dict:
    return {
        "owner_id": owner_id,
        "project_id": project_id,
        "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{number}",
        "notes": "",
        "status": rng.choice(("todo", "todo", "in_progress", "done")),
        "priority": rng.randrange(4),
        "due_at": None if rng.random() < 0.1 else START + timedelta(minutes=rng.randrange(525_600)),
        "due_all_day": False,
        "created_at": START + timedelta(seconds=number * 7),
        "updated_at": START,
    }


def _chunks(total: int) -> Iterator[range]:
    for first in range(0, total, CHUNK):
        yield range(first, min(first + CHUNK, total))


def _insert_users(count: int, prefix: str, password_hash: str) -> list[int]:
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import User

    ids: list[int] = []
    for numbers in _chunks(count):
        rows = [
            {
                "email": f"{prefix}{n}@bench.example",
                "password_hash": password_hash,
                "display_name": f"Bench {n}",
                "email_verified_at": START,  # confirmed, as a user who has used the app for a while
            }
            for n in numbers
        ]
        ids += db.session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), rows).all()
    return ids


def _insert_projects(rows: list[dict]) -> list[int]:
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import Project

    return db.session.scalars(insert(Project).returning(Project.id, sort_by_parameter_order=True), rows).all()


def seed_crowd(users: int, tasks_each: int, rng: random.Random) -> None:
    """`users` other users, each with an Inbox holding `tasks_each` tasks."""
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import Task

    user_ids = _insert_users(users, "crowd", "-")
    inboxes = _insert_projects([{"owner_id": u, "name": "Inbox", "is_inbox": True} for u in user_ids])
    owners = [(user, inbox) for user, inbox in zip(user_ids, inboxes, strict=True) for _ in range(tasks_each)]
    for numbers in _chunks(len(owners)):
        rows = [_task_row(rng, *owners[n], n) for n in numbers]
        db.session.execute(insert(Task.__table__), rows)
        db.session.commit()
        progress("other users' tasks", numbers.stop, len(owners))


def seed_user_with_tasks(
    count: int, rng: random.Random, *, password_hash: str = "-", name: str = "me"
) -> SeededUser:
    """One user with `count` tasks over an Inbox and a few projects, a third of them tagged, as a
    user who has used the app for a while would have."""
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import Tag, Task, task_tags

    [user_id] = _insert_users(1, name, password_hash)
    projects = _insert_projects(
        [{"owner_id": user_id, "name": "Inbox", "is_inbox": True}]
        + [{"owner_id": user_id, "name": project} for project in PROJECT_NAMES]
    )
    tags = db.session.scalars(
        insert(Tag).returning(Tag.id, sort_by_parameter_order=True),
        [{"owner_id": user_id, "name": tag} for tag in TAG_NAMES],
    ).all()
    for numbers in _chunks(count):
        rows = [_task_row(rng, user_id, rng.choice(projects), n) for n in numbers]
        task_ids = db.session.scalars(
            insert(Task).returning(Task.id, sort_by_parameter_order=True), rows
        ).all()
        tagged = [
            {"task_id": task, "tag_id": tag}
            for task in task_ids
            if rng.random() < 1 / 3
            for tag in rng.sample(tags, rng.randint(1, 2))
        ]
        db.session.execute(insert(task_tags), tagged)
        db.session.commit()
        progress(f"tasks of {name}", numbers.stop, count)
    return SeededUser(user_id, f"{name}0@bench.example")


def analyze() -> None:
    """Fresh planner statistics after a bulk load (PostgreSQL plans badly without them)."""
    from sqlalchemy import text

    from webapp.extensions import db

    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE"))
