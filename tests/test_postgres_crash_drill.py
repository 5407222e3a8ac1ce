"""Drill: the database server crashes right after a batch of mail went out.

On PostgreSQL the "sent" mark is committed without waiting for the disk (synchronous_commit off
for that statement). A worker crash loses nothing by it; a crash of the database server can lose
the marks of its last moments. This drill crashes a PostgreSQL server of its own (immediate stop:
no checkpoint, unflushed WAL lost) with its WAL writer slowed down, so the marks of the whole
batch are lost, and shows what README promises: those mails are sent again after the lease runs
out, with the same Message-IDs, and nothing is lost.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from jobs.reminders import run_sweep
from tests.support import NOW, let_the_leases_run_out, make_reminders, make_user, reminder_ids
from webapp.extensions import db
from webapp.reminders.models import Delivery, DeliveryState

pytestmark = pytest.mark.own_postgres


@pytest.fixture
def own_postgres_options() -> tuple[str, ...]:
    # The WAL writer flushes only every 10 s, so a crash loses every async commit before it.
    return ("wal_writer_delay=10s",)


@pytest.fixture
def crash_app(postgres_settings, smtp_sink, app):
    """The app on the crashable server (smtp_sink first: the app sends its mail there)."""
    return app


def _sent() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.SENT)
    )


def test_a_database_crash_after_sending_resends_with_the_same_message_ids_and_loses_nothing(
    crash_app, own_postgres, smtp_sink, run_jobs
):
    reminders = make_reminders(make_user(), 30, NOW)
    run_sweep(NOW)
    run_jobs()
    assert sorted(smtp_sink.message_ids) == sorted(reminder_ids(reminders))
    assert _sent() == 30, "marked sent, but only in the server's memory"

    db.session.remove()
    db.engine.dispose()
    own_postgres.stop("immediate")
    own_postgres.start()

    lost_marks = 30 - _sent()
    assert lost_marks > 0, "the drill must lose some marks to show what happens then"
    let_the_leases_run_out()  # the leases of the crashed moment run out
    run_sweep(NOW)
    run_jobs()

    assert set(smtp_sink.message_ids) == reminder_ids(reminders), "nothing lost, nothing new"
    assert len(smtp_sink.message_ids) == 30 + lost_marks, "only the mails whose marks were lost came again"
    assert _sent() == 30
