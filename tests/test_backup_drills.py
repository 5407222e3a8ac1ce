"""Drills: back up, lose the database, restore, and every row is back; on SQLite and PostgreSQL.

Each drill has a database of its own that it may destroy: an SQLite file, or scratch databases
(`tasklane_drill_…`) that it creates and drops on the PostgreSQL server the suite runs on (the
PostgreSQL pass: TEST_DATABASE_URL), never touching the others there. `flask backup` and
`flask restore` run as the operator runs them, in processes of their own.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from rq.job import Job
from sqlalchemy import create_engine, insert, select
from sqlalchemy.engine import make_url

from jobs.backups import TIMEOUT_SECONDS, take_nightly_backup
from jobs.schedule import PERIODIC_PREFIX, AppScheduler, register_periodic_jobs
from tests.conftest import ROOT, app_worker_env, require
from tests.support import (
    add_task,
    backups_in,
    make_user,
    make_users_with_everything,
    migrated_app,
    rows_of_every_table,
)
from webapp.backups.services import check_backup, restore_backup, restore_target, take_backup
from webapp.config import sqlalchemy_url
from webapp.extensions import db, queues
from webapp.models import Task, User
from webapp.projects.services import ensure_inbox
from webapp.queueing import SERIALIZER

WAIT_SECONDS = 120  # for a step on a loaded machine: generous, and only reached on failure


class DrillDatabases:
    """The drill's databases: the one the app runs on, and fresh ones to restore into."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.made: list[str] = []
        self.url = self.fresh()
        if kind == "postgresql":
            self._run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(make_url(self.url).database)))

    def fresh(self) -> str:
        """The URL of a database that does not exist yet."""
        name = f"tasklane_drill_{secrets.token_hex(4)}"
        self.made.append(name)
        if self.kind == "sqlite":
            return f"sqlite:///{self.tmp_path / name}.db"
        return make_url(_postgres_server()).set(database=name).render_as_string(hide_password=False)

    def destroy(self) -> None:
        """The database is lost: its file deleted, or the database dropped."""
        if self.kind == "sqlite":
            Path(make_url(self.url).database).unlink()
        else:
            self._drop(make_url(self.url).database)

    def remove(self) -> None:
        if self.kind == "postgresql":
            for name in self.made:
                self._drop(name)

    def _drop(self, name: str) -> None:
        self._run(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _run(self, statement: sql.Composed) -> None:
        server = make_url(_postgres_server()).set(drivername="postgresql", database="postgres")
        with psycopg.connect(server.render_as_string(hide_password=False), autocommit=True) as connection:
            connection.execute(statement)


def _postgres_server() -> str:
    return sqlalchemy_url(os.environ.get("TEST_DATABASE_URL", ""))


@pytest.fixture(params=["sqlite", "postgresql"])
def databases(request, tmp_path):
    if request.param == "postgresql":
        if make_url(_postgres_server() or "sqlite://").get_backend_name() != "postgresql":
            pytest.skip("the PostgreSQL drills run in the PostgreSQL pass (TEST_DATABASE_URL)")
        require(bool(shutil.which("pg_dump") and shutil.which("pg_restore")), "pg_dump and pg_restore")
    databases = DrillDatabases(request.param, tmp_path)
    yield databases
    databases.remove()


@pytest.fixture
def drill_app(databases, app_config, backup_dir, redis_server):
    """The app on the drill's own database, migrated from empty like every test database."""
    app_config["SQLALCHEMY_DATABASE_URI"] = databases.url
    with migrated_app(app_config) as app:
        yield app


@pytest.fixture
def flask_cli(drill_app, backup_dir):
    """`flask …` run as the operator runs it, in a process of its own, on the drill's database."""
    env = {**app_worker_env(drill_app), "BACKUP_DIR": str(backup_dir)}

    def run(*args: str, answer: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            env=env,
            cwd=ROOT,
            input=answer,
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run


def _let_go_of_the_database() -> None:
    db.session.remove()
    db.engine.dispose()


def test_a_lost_database_comes_back_with_every_user_task_reminder_and_pending_delivery(
    databases, drill_app, flask_cli, backup_dir
):
    make_users_with_everything()
    before = rows_of_every_table(db.engine)
    backed_up = flask_cli("backup")
    assert backed_up.returncode == 0, backed_up.stderr
    [backup] = backups_in(backup_dir)

    _let_go_of_the_database()
    databases.destroy()
    restored = flask_cli("restore", str(backup_dir / backup))  # nothing to replace: it does not ask

    assert restored.returncode == 0, restored.stderr
    assert "checksum verified" in restored.stdout
    assert rows_of_every_table(db.engine) == before


def test_a_restore_takes_back_what_was_written_after_the_backup(databases, drill_app, flask_cli, backup_dir):
    make_users_with_everything()
    before = rows_of_every_table(db.engine)
    assert flask_cli("backup").returncode == 0
    [backup] = backups_in(backup_dir)
    ada = db.session.scalar(select(User).filter_by(email="ada@example.com"))
    add_task(ada, "Written after the backup")
    db.session.delete(db.session.scalar(select(User).filter_by(email="bob@example.com")))
    db.session.commit()
    after_the_backup = rows_of_every_table(db.engine)
    db.session.remove()  # the app's pooled connections stay open, as a running process's would

    refused = flask_cli("restore", str(backup_dir / backup), answer="n\n")
    assert refused.returncode == 1
    assert "nothing was restored" in refused.stderr
    assert rows_of_every_table(db.engine) == after_the_backup

    restored = flask_cli("restore", str(backup_dir / backup), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert rows_of_every_table(db.engine) == before


class Writer(threading.Thread):
    """Adds tasks titled "write 1", "write 2", …, each in a transaction of its own, on a
    connection of its own, one whenever asked."""

    def __init__(self, engine, user: User) -> None:
        super().__init__(daemon=True)
        self.engine = engine
        self.row = {"owner_id": user.id, "project_id": ensure_inbox(user).id, "notes": ""}
        self.count = 0
        self._asked: queue.Queue[int | None] = queue.Queue()
        self._done: queue.Queue[BaseException | None] = queue.Queue()

    def run(self) -> None:
        while (number := self._asked.get()) is not None:
            try:
                with self.engine.begin() as connection:
                    connection.execute(insert(Task).values(title=f"write {number}", **self.row))
            except BaseException as error:
                self._done.put(error)
                return
            self._done.put(None)

    def write(self, *_progress_line: str) -> None:
        """One more task, committed when this returns."""
        self.count += 1
        self._asked.put(self.count)
        error = self._done.get(timeout=WAIT_SECONDS)
        assert error is None, error

    def stop(self) -> None:
        self._asked.put(None)
        self.join(WAIT_SECONDS)


def test_a_backup_taken_while_tasks_are_written_holds_exactly_those_written_before_it(
    databases, drill_app, backup_dir
):
    ada = make_user()
    db.session.execute(
        insert(Task),
        [
            {"owner_id": ada.id, "project_id": ensure_inbox(ada).id, "title": f"old {n}", "notes": "x" * 400}
            for n in range(3000)
        ],
    )
    db.session.commit()
    if databases.kind == "sqlite":  # copy it in about ten steps
        with db.engine.connect() as connection:
            pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
        drill_app.config["BACKUP_SQLITE_STEP_PAGES"] = pages // 10 + 1
    writer = Writer(db.engine, ada)
    writer.start()
    for _ in range(5):
        writer.write()

    steps = []
    taken = take_backup(progress=lambda line: (steps.append(line), writer.write()))  # a write at each step
    writer.stop()

    assert len(steps) >= 2, "the backup went by in one step: nothing was written during it"
    copy = restore_target(databases.fresh())
    restore_backup(check_backup(taken.backup.path, copy), copy, progress=print)
    engine = create_engine(copy.url)
    with engine.connect() as connection:
        titles = connection.scalars(select(Task.title).where(Task.title.like("write %"))).all()
        if databases.kind == "sqlite":
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
    numbers = sorted(int(title.removeprefix("write ")) for title in titles)
    # The database as it was when the backup began: the five writes before it, none made during it.
    assert numbers == [1, 2, 3, 4, 5]


@pytest.fixture
def keep_three(app_config, worker_env_overrides) -> None:
    """BACKUP_KEEP=3 for the app and its workers; ask for it before `app`."""
    app_config["BACKUP_KEEP"] = 3
    worker_env_overrides["BACKUP_KEEP"] = "3"


def test_the_nightly_backup_runs_on_a_worker_and_keeps_the_newest(
    backup_dir, keep_three, app, run_worker_process
):
    make_user()
    earlier = [take_backup(progress=print).backup.name for _ in range(3)]
    scheduler = AppScheduler(connection=queues.connection)
    register_periodic_jobs(scheduler)
    [nightly] = [
        job for job in scheduler.get_jobs() if job.id == f"{PERIODIC_PREFIX}{take_nightly_backup.__name__}"
    ]
    assert nightly.timeout == TIMEOUT_SECONDS

    scheduler.enqueue_job(nightly)  # its time has come
    run_worker_process("default")

    kept = backups_in(backup_dir)
    result = Job.fetch(nightly.id, connection=queues.connection, serializer=SERIALIZER).return_value()
    assert result["removed"] == [earlier[0]]
    assert kept == [*earlier[1:], result["backup"]]
    check_backup(backup_dir / result["backup"], restore_target(None))  # whole, and of this database
