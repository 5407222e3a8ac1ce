"""SQLite: backups with its online backup API, restores with the same API in the other direction.

A backup reads the database inside one read transaction and copies it a few pages at a time, so
it is one consistent snapshot (WAL lets writers go on meanwhile), and progress can be shown. A
restore writes the whole copy into the target in one write transaction: other connections see
the old database or the restored one, never a mix, and SQLite's own locking keeps a process that
still has the file open from corrupting it. (A -wal file left beside a lost database is not read
into a new one: SQLite deletes a -wal it finds beside an empty database file.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from .archive import BackupError, Progress

REPORT_EVERY_PERCENT = 5


def database_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{url} is not a database file that can be backed up or restored")
    return Path(database).resolve()


def dump(url: str, destination: Path, progress: Progress, *, step_pages: int) -> str | None:
    """Copy the database at `url` into `destination` (a new file); its schema revision."""
    source_path = database_path(url)
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path}")
    with (
        closing(sqlite3.connect(source_path, isolation_level=None, timeout=30)) as source,
        closing(sqlite3.connect(destination, isolation_level=None)) as copy,
    ):
        source.execute("BEGIN")  # one read transaction: every step copies the same snapshot
        revision = _schema_revision(source)

        try:
            source.backup(copy, pages=step_pages, progress=_reporter("copied", progress))
        except sqlite3.Error as error:
            raise BackupError(f"SQLite could not copy {source_path}: {error}") from None
        source.execute("COMMIT")
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        if (check := copy.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
            raise BackupError(f"the copy of {source_path} failed SQLite's check: {check}")
    return revision


def _schema_revision(connection: sqlite3.Connection) -> str | None:
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # not migrated
        return None
    return row[0] if row else None


def describe(url: str) -> str:
    return str(database_path(url))


def exists(url: str) -> bool:
    path = database_path(url)
    return path.is_file() and path.stat().st_size > 0


def _reporter(verb: str, progress: Progress) -> Callable[[int, int, int], None]:
    """SQLite's progress callback, called after each step, telling `progress` every 5% or so."""
    reported = -1

    def report(_status: int, remaining: int, total: int) -> None:
        nonlocal reported
        done = total - remaining
        percent = done * 100 // max(total, 1)
        if percent // REPORT_EVERY_PERCENT > reported or remaining == 0:
            reported = percent // REPORT_EVERY_PERCENT
            progress(f"{verb} {done:,} of {total:,} pages ({percent}%)")

    return report


def restore(backup: Path, url: str, progress: Progress, *, step_pages: int) -> None:
    """Write the database copy `backup` into the database at `url`, whole or not at all: the
    target stays locked for writing from the first page to the last, and readers see the old
    database until the end."""
    target = database_path(url)
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} does not exist")
    with (
        closing(sqlite3.connect(f"file:{backup}?mode=ro", uri=True, isolation_level=None)) as source,
        closing(sqlite3.connect(target, isolation_level=None, timeout=30)) as destination,
    ):
        try:
            source.backup(destination, pages=step_pages, progress=_reporter("wrote", progress))
        except sqlite3.Error as error:
            raise BackupError(
                f"SQLite could not write {target}: {error} (stop the app's processes first)"
            ) from None
