"""Drill: the database server crashes right after a batch of mail went out.

On PostgreSQL the "sent" mark is committed without waiting for the disk (synchronous_commit off
for that statement). A worker crash loses nothing by it; a crash of the database server can lose
the marks of its last moments. This drill crashes a PostgreSQL server of its own (immediate stop:
no checkpoint, unflushed WAL lost) with its WAL writer slowed down, so the marks of the whole
batch are lost, and shows what README promises: those mails are sent again after the lease runs
out, with the same Message-IDs, and nothing is lost.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.smtp_sink import free_port
from jobs.reminders import run_sweep
from tests.conftest import require
from tests.support import NOW, let_the_leases_run_out, make_reminders, make_user, migrated_app, reminder_ids
from webapp.extensions import db
from webapp.reminders.models import Delivery, DeliveryState

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> None:
    subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120
    )


class CrashablePostgres:
    """A throwaway PostgreSQL server on loopback that the test may crash and start again."""

    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="tasklane-pg-"))
        shutil.chown(self.data, "postgres", "postgres")
        self.port = free_port()
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        # The WAL writer flushes only every 10 s, so a crash loses every async commit before it.
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c wal_writer_delay=10s"
        log = self.data / "server.log"
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "120",
            "start",
        )

    def crash(self) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "fast",
                "stop",
            ],
            capture_output=True,
            timeout=120,
        )
        shutil.rmtree(self.data, ignore_errors=True)


@pytest.fixture
def crashable_postgres(app_config):
    require(
        (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None, "PostgreSQL 15 server binaries"
    )
    server = CrashablePostgres()
    server.start()
    app_config["SQLALCHEMY_DATABASE_URI"] = server.url
    yield server
    server.remove()


@pytest.fixture
def crash_app(crashable_postgres, app_config, smtp_sink, redis_server):
    """The app on the crashable server, migrated from empty like every test database."""
    with migrated_app(app_config) as app:
        yield app


def _sent() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.SENT)
    )


def test_a_database_crash_after_sending_resends_with_the_same_message_ids_and_loses_nothing(
    crash_app, crashable_postgres, smtp_sink, run_jobs
):
    reminders = make_reminders(make_user(), 30, NOW)
    run_sweep(NOW)
    run_jobs()
    assert sorted(smtp_sink.message_ids) == sorted(reminder_ids(reminders))
    assert _sent() == 30, "marked sent, but only in the server's memory"

    db.session.remove()
    db.engine.dispose()
    crashable_postgres.crash()
    crashable_postgres.start()

    lost_marks = 30 - _sent()
    assert lost_marks > 0, "the drill must lose some marks to show what happens then"
    let_the_leases_run_out()  # the leases of the crashed moment run out
    run_sweep(NOW)
    run_jobs()

    assert set(smtp_sink.message_ids) == reminder_ids(reminders), "nothing lost, nothing new"
    assert len(smtp_sink.message_ids) == 30 + lost_marks, "only the mails whose marks were lost came again"
    assert _sent() == 30
