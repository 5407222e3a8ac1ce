"""Read/write splitting against a real streaming replica (pg_basebackup of a server of the test's
own, on another loopback port): lists come from the replica, what a user wrote is read back from
the primary until the replica has it, and a replica that is down leaves the reads on the primary.

Replay on the replica is paused (`pg_wal_replay_pause()`) to make it visibly behind: a task added
on the primary is then missing from whatever the replica answers.
"""

from __future__ import annotations

import time

import pytest

from tests.pg_clusters import PostgresCluster
from tests.support import add_task, titles
from webapp.cache import tasks_changed

pytestmark = pytest.mark.own_postgres


@pytest.fixture
def replica(own_postgres, postgres_settings):
    """A hot standby of the app's (migrated) primary, streaming; the app reads from it (ask for
    it before `app`)."""
    standby = own_postgres.streaming_replica()
    postgres_settings["DATABASE_REPLICA_URL"] = standby.url
    postgres_settings["REPLICA_RETRY_SECONDS"] = 60  # the fallback test must not see it come back
    yield standby
    standby.remove()


def _pause(standby: PostgresCluster) -> None:
    standby.execute("SELECT pg_wal_replay_pause()")


def _resume_and_catch_up(primary: PostgresCluster, standby: PostgresCluster) -> None:
    [(position,)] = primary.execute("SELECT pg_current_wal_lsn()")
    standby.execute("SELECT pg_wal_replay_resume()")
    deadline = time.monotonic() + 60
    while not standby.execute(f"SELECT 1 WHERE pg_last_wal_replay_lsn() >= '{position}'"):
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


def _added_behind_the_apps_back(user, title: str) -> None:
    """A task written on the primary as another process would (no request of this user), which
    changes what the user's cached pages show."""
    tasks_changed(user.id)
    add_task(user, title)


def test_task_lists_dashboard_and_today_are_read_from_the_replica(replica, own_postgres, app, client, user):
    _pause(replica)
    _added_behind_the_apps_back(user, "Only on the primary")

    assert "Only on the primary" not in titles(client.get("/tasks"))
    assert "Only on the primary" not in client.get("/").get_data(as_text=True)
    assert client.get("/today").status_code == 200

    _resume_and_catch_up(own_postgres, replica)
    _added_behind_the_apps_back(user, "Replicated")
    _resume_and_catch_up(own_postgres, replica)
    assert {"Only on the primary", "Replicated"} <= set(titles(client.get("/tasks")))


def test_a_users_own_write_shows_on_the_next_request_while_replication_is_paused(
    replica, app, client, other_client, user, other_user
):
    _pause(replica)

    assert client.post("/tasks", data={"title": "Just written"}).status_code == 303
    assert "Just written" in titles(client.get("/tasks"))
    assert "Just written" in titles(client.get("/tasks", headers={"HX-Request": "true"}))

    # Someone else's reads still come from the replica, which has not replayed that write.
    _added_behind_the_apps_back(other_user, "Bob's, not replayed")
    assert "Bob's, not replayed" not in titles(other_client.get("/tasks"))


def test_reads_fall_back_to_the_primary_when_the_replica_is_stopped(replica, app, client, user):
    add_task(user, "Before the replica stopped")
    replica.stop()

    for url in ("/tasks", "/", "/today", "/upcoming", "/tasks?q=Before"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    assert "Before the replica stopped" in titles(client.get("/tasks?q=stopped"))

    assert client.post("/tasks", data={"title": "Written meanwhile"}).status_code == 303
    assert {"Before the replica stopped", "Written meanwhile"} <= set(titles(client.get("/tasks")))
