"""PostgreSQL: backups with `pg_dump --format=custom`, restores with `pg_restore`.

pg_dump reads the whole database in one repeatable-read transaction, so a backup is one
consistent snapshot while the app goes on writing. A restore runs in one transaction
(`--single-transaction --clean --if-exists`): the target holds the old data or the backup's,
never half of each; a database that does not exist yet is created first.

Passwords go to pg_dump and pg_restore in PGPASSWORD, never on their command line (which `ps`
shows to every user of the machine).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import deque
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from .archive import BackupError, Progress

MAINTENANCE_DATABASE = "postgres"  # where CREATE DATABASE is run from
TABLE_LINE = re.compile(r'(?:dumping contents of|processing data for) table "([^"]+)"')
REVISION_COPY = "COPY public.alembic_version (version_num) FROM stdin;"


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment that carries it."""
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(
            f"{name} is not installed: install PostgreSQL's client tools of the server's major version or "
            "newer (Debian: apt-get install postgresql-client)"
        )
    return path


def _run(command: list[str], env: dict[str, str], progress: Progress, verb: str) -> None:
    """Run pg_dump or pg_restore --verbose, reporting each table as it goes."""
    last_lines: deque[str] = deque(maxlen=15)
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as run:
        for line in run.stderr:
            last_lines.append(line.rstrip())
            if match := TABLE_LINE.search(line):
                progress(f"{verb} {match.group(1)}")
    if run.returncode != 0:
        errors = [line for line in last_lines if "error" in line.lower()] or list(last_lines)
        raise BackupError(f"{Path(command[0]).name} failed:\n" + "\n".join(errors[-8:]))


def dump(url: str, destination: Path, progress: Progress) -> str | None:
    """Dump the database at `url` into `destination`; its schema revision (from the dump itself)."""
    uri, env = _libpq(make_url(url))
    _run(
        [_tool("pg_dump"), "--format=custom", "--verbose", f"--file={destination}", f"--dbname={uri}"],
        env,
        progress,
        "dumping",
    )
    return _revision_in(destination)


def _revision_in(dump_file: Path) -> str | None:
    listing = subprocess.run(
        [_tool("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(dump_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = listing.stdout.splitlines()
    if REVISION_COPY in lines:
        row = lines[lines.index(REVISION_COPY) + 1]
        return None if row == "\\." else row
    return None


def describe(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=True)


def exists(url: str) -> bool:
    """Whether the database exists (a restore into it replaces what it holds)."""
    parsed = make_url(url)
    try:
        with _maintenance_connection(parsed) as connection:
            found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,))
            return found.fetchone() is not None
    except psycopg.OperationalError:
        return True  # the maintenance database is out of reach: assume it does, and ask


def _maintenance_connection(url: URL) -> psycopg.Connection:
    uri, env = _libpq(url.set(database=MAINTENANCE_DATABASE))
    return psycopg.connect(uri, password=env.get("PGPASSWORD"), autocommit=True, connect_timeout=10)


def restore(backup: Path, url: str, progress: Progress) -> None:
    parsed = make_url(url)
    if not exists(url):
        progress(f"creating the database {parsed.database}")
        try:
            with _maintenance_connection(parsed) as connection:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(parsed.database)))
        except psycopg.Error as error:
            raise BackupError(
                f"could not create the database {parsed.database} ({error}): create it (createdb) and "
                "run again"
            ) from None
    uri, env = _libpq(parsed)
    command = [
        _tool("pg_restore"),
        "--single-transaction",  # all or nothing
        "--clean",
        "--if-exists",
        "--no-owner",  # owned by whoever restores: the backup's roles may not exist on this server
        "--verbose",
        f"--dbname={uri}",
        str(backup),
    ]
    _run(command, env, progress, "restoring")
