"""Drills: the database stops, freezes or is too slow while people use the app.

What they see is a 503 page (or, for htmx, the message in the page's flash area) with
Retry-After, within the connect and statement timeouts, never a 500 and never a hang; and once
the database is back, the next request works without the app being restarted. Each drill runs
against a PostgreSQL server of its own (tests/pg_clusters.py).
"""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import event

from tests.support import count, page_text
from webapp.extensions import db
from webapp.models import Task

pytestmark = pytest.mark.own_postgres

UNAVAILABLE = "We cannot reach our database just now"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def app_config_with_timeouts(postgres_settings) -> dict:
    """Short timeouts, and the rate limits on, as in production (they add their own headers)."""
    postgres_settings["DATABASE_STATEMENT_TIMEOUT"] = 1
    postgres_settings["RATELIMIT_ENABLED"] = True
    return postgres_settings


def _add(client, title: str, headers: dict | None = None):
    return client.post("/tasks", data={"title": title}, headers=headers or {})


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)[:2000]
    assert response.headers["Retry-After"] == "2"
    assert UNAVAILABLE in page_text(response)


def test_a_stopped_database_answers_503_with_retry_after_then_pages_work_again_without_a_restart(
    app_config_with_timeouts, own_postgres, client, user
):
    assert _add(client, "Before").status_code == 303

    own_postgres.stop()
    _assert_unavailable(_add(client, "While down"))
    fragment = _add(client, "While down, from htmx", HTMX)
    _assert_unavailable(fragment)
    assert fragment.headers["HX-Retarget"] == "#flash"
    assert "<html" not in fragment.get_data(as_text=True)
    _assert_unavailable(client.get("/tasks?q=down"))

    own_postgres.start()
    assert _add(client, "After").status_code == 303
    assert client.get("/tasks?q=After").status_code == 200
    assert count(Task) == 2


def test_a_frozen_database_answers_503_within_the_timeouts(
    app_config_with_timeouts, own_postgres, client, user
):
    assert _add(client, "Before").status_code == 303  # a pooled connection waits for its next use

    own_postgres.freeze()
    try:
        started = time.monotonic()
        _assert_unavailable(_add(client, "While frozen"))
        waited = time.monotonic() - started
    finally:
        own_postgres.thaw()
    # The pooled connection's ping gives up after the connect timeout (2 s), a new connection
    # after another: about 4 s, nowhere near a worker's timeout.
    assert waited < 8, waited

    assert _add(client, "After").status_code == 303
    assert count(Task) == 2


def test_a_statement_slower_than_the_statement_timeout_answers_503(
    app_config_with_timeouts, own_postgres, client, user
):
    assert _add(client, "Before").status_code == 303
    blocker = psycopg.connect(own_postgres.conninfo)
    blocker.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")  # held until rollback
    try:
        started = time.monotonic()
        _assert_unavailable(_add(client, "While locked"))
        assert time.monotonic() - started < 6
    finally:
        blocker.rollback()
        blocker.close()

    assert _add(client, "After").status_code == 303
    assert count(Task) == 2


class LoseConnectionAtSessionLookup:
    """Once armed, the server ends the app's connection as the app next asks it for a session:
    a restart caught between the pool's ping and the query."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.armed = False
        self.ended: list[int] = []

    def __call__(self, conn, _cursor, statement, *_args) -> None:
        if self.armed and "FROM user_sessions" in statement:
            self.armed = False
            pid = conn.connection.dbapi_connection.info.backend_pid
            with psycopg.connect(self.conninfo, autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
            self.ended.append(pid)


@pytest.fixture
def connection_loss(app, own_postgres):
    loss = LoseConnectionAtSessionLookup(own_postgres.conninfo)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", loss)
    yield loss
    with app.app_context():
        event.remove(db.engine, "before_cursor_execute", loss)


def test_a_connection_lost_while_the_session_loads_answers_503_and_limits_go_on_counting(
    app_config_with_timeouts, own_postgres, app, client, user, connection_loss
):
    before = _add(client, "Before")
    assert before.status_code == 303

    connection_loss.armed = True
    _assert_unavailable(_add(client, "While the connection is lost"))
    assert connection_loss.ended, "the connection was to be lost"

    after = _add(client, "After")
    assert after.status_code == 303
    assert count(Task) == 2
    # Counted on in Redis: limits that had switched to the process's memory would start afresh.
    remaining = "X-RateLimit-Remaining"
    assert int(after.headers[remaining]) < int(before.headers[remaining])
