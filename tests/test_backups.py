"""`flask backup` and `flask restore`: what they write, what they keep, what they refuse.

The drills (a lost database coming back whole, on SQLite and PostgreSQL, a backup during writes,
the nightly job on a worker) are in test_backup_drills.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import time
from contextlib import closing
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import create_engine

from tests.support import add_task, backups_in, make_users_with_everything, rows_of_every_table, titles
from webapp import create_app
from webapp.backups.archive import sha256_of
from webapp.config import BASE_DIR
from webapp.extensions import db


@pytest.fixture
def cli(app):
    def invoke(*args: str, answer: str | None = None):
        return app.test_cli_runner().invoke(args=list(args), input=answer)

    return invoke


def _back_up(cli) -> str:
    result = cli("backup")
    assert result.exit_code == 0, result.output
    return backups_in(Path(current_app.config["BACKUP_DIR"]))[-1]


def _sqlite_rows(path: Path) -> dict[str, set[tuple]]:
    """Every row of an SQLite file, opened in WAL mode as the app opens it."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA journal_mode = WAL")
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        return rows_of_every_table(engine)
    finally:
        engine.dispose()


def test_a_backup_is_written_whole_with_a_manifest_only_its_owner_can_read(backup_dir, app, cli):
    make_users_with_everything()
    result = cli("backup")

    assert result.exit_code == 0, result.output
    [name] = backups_in(backup_dir)
    assert name.endswith(("-sqlite.db", "-postgresql.dump"))
    assert f"Backed up into {backup_dir / name}" in result.output
    assert "100%" in result.output or "dumping public.tasks" in result.output  # progress on the way
    manifest = json.loads((backup_dir / f"{name}.json").read_text())
    assert manifest["sha256"] == sha256_of(backup_dir / name)
    assert manifest["bytes"] == (backup_dir / name).stat().st_size
    assert manifest["schema_revision"] in ScriptDirectory(str(BASE_DIR / "migrations")).get_heads()
    assert sorted(path.name for path in backup_dir.iterdir()) == [name, f"{name}.json"]  # nothing partial
    for path in (backup_dir, *backup_dir.iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path} is readable by others"


def _two_hours_old(path: Path) -> Path:
    path.write_bytes(b"left by a run that died")
    then = time.time() - 7200
    os.utime(path, (then, then))
    return path


def test_backups_beyond_the_count_kept_go_oldest_first_with_what_dead_runs_left(backup_dir, app, cli):
    app.config["BACKUP_KEEP"] = 2
    first, second = _back_up(cli), _back_up(cli)
    dead_partial = _two_hours_old(backup_dir / f".{first}.partial")
    dead_copy = _two_hours_old(backup_dir / f"tasklane-20200101T000000.000Z-{first.split('Z-')[1]}")
    in_progress = backup_dir / ".tasklane-20990101T000000.000Z-sqlite.db.partial"
    in_progress.write_bytes(b"another run is writing this one")

    result = cli("backup")

    third = backups_in(backup_dir)[-1]
    assert backups_in(backup_dir) == [second, third]
    assert f"Removed {first}" in result.output
    assert not dead_partial.exists() and not dead_copy.exists()
    assert in_progress.exists()


def test_the_backup_just_taken_is_kept_even_when_an_older_one_has_a_later_name(backup_dir, app, cli):
    """A clock set back (or a copy from elsewhere) makes an older backup look newer."""
    app.config["BACKUP_KEEP"] = 1
    earlier = _back_up(cli)
    later_name = "tasklane-20991231T235959.999Z-" + earlier.split("Z-")[1]
    for suffix in ("", ".json"):
        (backup_dir / f"{earlier}{suffix}").rename(backup_dir / f"{later_name}{suffix}")

    result = cli("backup")

    [kept] = backups_in(backup_dir)
    assert kept != later_name
    assert f"Removed {later_name}" in result.output


def test_a_backup_with_nothing_to_keep_is_refused(backup_dir, app, cli):
    app.config["BACKUP_KEEP"] = 0
    result = cli("backup")
    assert result.exit_code == 1
    assert "BACKUP_KEEP is 0" in result.output
    assert backups_in(backup_dir) == []


def test_a_restore_without_an_answer_changes_nothing(backup_dir, app, cli, user):
    backup = backup_dir / _back_up(cli)
    add_task(user, "Written after the backup")
    before = rows_of_every_table(db.engine)

    result = cli("restore", str(backup), answer="")

    assert result.exit_code == 1
    assert "not confirmed: nothing was restored" in result.output
    assert rows_of_every_table(db.engine) == before


def _damaged(backup: Path, how: str) -> Path:
    if how == "a byte changed":
        with backup.open("r+b") as file:
            file.seek(backup.stat().st_size // 2)
            byte = file.read(1)
            file.seek(-1, os.SEEK_CUR)
            file.write(bytes([byte[0] ^ 0xFF]))
    elif how == "cut short":
        with backup.open("r+b") as file:
            file.truncate(backup.stat().st_size // 2)
    elif how == "no manifest":
        Path(f"{backup}.json").unlink()
    elif how == "a manifest that is not one":
        Path(f"{backup}.json").write_text("<html>not json</html>")
    return backup


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("a byte changed", "does not match the SHA-256 in its manifest"),
        ("cut short", "bytes long, its manifest says"),
        ("no manifest", "has no manifest"),
        ("a manifest that is not one", "is not a backup manifest"),
    ],
)
def test_a_damaged_backup_is_refused_before_anything_is_touched(backup_dir, app, cli, user, how, said):
    backup = _damaged(backup_dir / _back_up(cli), how)
    add_task(user, "Written after the backup")
    before = rows_of_every_table(db.engine)

    result = cli("restore", str(backup), "--yes")

    assert result.exit_code == 1
    assert said in result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    assert rows_of_every_table(db.engine) == before


def test_a_backup_of_another_kind_of_database_is_refused(backup_dir, app, cli, tmp_path):
    backup = backup_dir / _back_up(cli)
    other = "postgresql://postgres@127.0.0.1:1/tasklane" if backup.suffix == ".db" else str(tmp_path / "t.db")

    result = cli("restore", str(backup), "--to", other, "--yes")

    assert result.exit_code == 1
    assert "is a backup of" in result.output


@pytest.fixture
def sqlite_app(app_config, tmp_path):
    """The app on an SQLite file of its own, whatever database the suite runs on."""

    def make(name: str, revision: str = "heads"):
        app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}"})
        with app.app_context():
            upgrade(revision=revision)
            db.engine.dispose()
        return app

    return make


def _invoke(app, *args: str):
    """A command as `flask` runs it: in an app context of its own."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def test_a_lost_databases_leftover_write_ahead_log_is_not_read_into_the_restored_one(
    backup_dir, sqlite_app, tmp_path
):
    app = sqlite_app("tasklane.db")
    with app.app_context():
        make_users_with_everything()
        backup = backup_dir / _back_up(lambda *args: _invoke(app, *args))
        db.session.remove()
        db.engine.dispose()
    expected = _sqlite_rows(tmp_path / "tasklane.db")
    lost = tmp_path / "lost.db"
    _leave_a_write_ahead_log_behind(lost)

    result = _invoke(app, "restore", str(backup), "--to", str(lost))

    assert result.exit_code == 0, result.output
    assert _sqlite_rows(lost) == expected


def _leave_a_write_ahead_log_behind(database: Path) -> None:
    """A database in WAL mode whose file is lost while its -wal and -shm survive (a crash)."""
    with closing(sqlite3.connect(database, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA wal_autocheckpoint = 0")
        connection.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        connection.executemany(
            "INSERT INTO users (email) VALUES (?)", [(f"lost{n}@example.com",) for n in range(500)]
        )
        for suffix in ("-wal", "-shm"):
            shutil.copy(f"{database}{suffix}", f"{database}{suffix}.saved")
    database.unlink()
    for suffix in ("-wal", "-shm"):
        os.replace(f"{database}{suffix}.saved", f"{database}{suffix}")


def test_a_backup_of_an_older_schema_says_to_migrate_after_the_restore(backup_dir, sqlite_app, tmp_path):
    scripts = ScriptDirectory(str(BASE_DIR / "migrations"))
    previous = scripts.get_revision(scripts.get_current_head()).down_revision
    app = sqlite_app("old.db", revision=previous)

    backed_up = _invoke(app, "backup")
    [backup] = backups_in(backup_dir)
    restored = _invoke(app, "restore", str(backup_dir / backup), "--to", str(tmp_path / "new.db"))

    assert backed_up.exit_code == 0 and restored.exit_code == 0, backed_up.output + restored.output
    assert json.loads((backup_dir / f"{backup}.json").read_text())["schema_revision"] == previous
    assert (
        f"Next: the backup's schema is at {previous}, older than this version's: run `flask db upgrade`"
        in restored.output
    )


def test_after_a_restore_pages_show_the_restored_tasks_not_cached_ones(backup_dir, app, cli, client, user):
    client.post("/tasks", data={"title": "In the backup"})
    backup = backup_dir / _back_up(cli)
    client.post("/tasks", data={"title": "Written after the backup"})
    for _ in range(2):  # the page is cached, and the session too once confirmed again
        assert titles(client.get("/tasks")) == ["In the backup", "Written after the backup"]
    db.session.remove()

    result = cli("restore", str(backup), "--yes")

    assert result.exit_code == 0, result.output
    assert "Cleared the cached pages and sessions." in result.output
    assert titles(client.get("/tasks")) == ["In the backup"]
