"""/healthz and /readyz as whoever runs the app sees them: against the real Redis-compatible server,
with it stopped or hung, and with real scheduler and worker processes started and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from rq import Worker
from rq.worker import WorkerStatus

from bench.smtp_sink import free_port
from tests.conftest import ROOT, redis_pid, worker_command
from webapp import create_app
from webapp.extensions import queues
from webapp.ops.readiness import NO_ANSWER, OK

READY_TIMEOUT = 120


def _checks(response) -> dict[str, str]:
    return response.get_json()["checks"]


def _probe_answer_is_plain(response) -> None:
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_healthz_answers_without_the_database_or_redis_and_readyz_names_both(app_config):
    broken = create_app(
        {
            **app_config,
            "SQLALCHEMY_DATABASE_URI": "sqlite:////nonexistent/folder/tasklane.db",
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    )
    client = broken.test_client()

    health = client.get("/healthz")
    assert (health.status_code, health.get_data(as_text=True)) == (200, "ok\n")
    _probe_answer_is_plain(health)

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["ready"] is False
    checks = _checks(ready)
    assert checks["database"] == checks["redis"] == NO_ANSWER
    assert checks["scheduler"].startswith("unknown") and checks["worker"].startswith("unknown")
    _probe_answer_is_plain(ready)


def test_with_redis_stopped_readyz_answers_503_naming_redis(own_redis, app, client):
    own_redis["server"].stop()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert _checks(ready)["database"] == OK and _checks(ready)["redis"] == NO_ANSWER
    assert client.get("/healthz").status_code == 200


def test_with_redis_hung_readyz_answers_503_within_the_socket_timeout(own_redis, app, client):
    os.kill(redis_pid(own_redis), signal.SIGSTOP)
    started = time.monotonic()
    ready = client.get("/readyz")
    took = time.monotonic() - started
    assert ready.status_code == 503 and _checks(ready)["redis"] == NO_ANSWER
    assert took < 10 * app.config["REDIS_SOCKET_TIMEOUT"], f"{took:.1f} s"


@pytest.fixture
def tight_limits(app_config) -> None:
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_READS="2 per minute")


def test_probes_are_never_rate_limited(tight_limits, app, client):
    assert [client.get("/login").status_code for _ in range(3)][-1] == 429  # the limit is on
    answers = {client.get(path).status_code for path in ("/healthz", "/readyz") for _ in range(5)}
    assert answers == {200, 503}


def _wait_until_ready(client, worker: subprocess.Popen) -> dict[str, str]:
    deadline = time.monotonic() + READY_TIMEOUT
    while (ready := client.get("/readyz")).status_code != 200:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}"
        assert time.monotonic() < deadline, f"not ready after {READY_TIMEOUT} s: {_checks(ready)}"
        time.sleep(0.1)
    return _checks(ready)


def _wait_until_listening(worker: subprocess.Popen) -> None:
    """Until the worker waits for jobs: only then does it handle SIGTERM by saying it is gone (a
    worker stopped while it starts is counted alive until its heartbeat runs out)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while [each.get_state() for each in Worker.all(connection=queues.connection)] != [WorkerStatus.IDLE]:
        assert worker.poll() is None, f"the worker exited with {worker.returncode}"
        assert time.monotonic() < deadline, f"the worker did not start listening in {READY_TIMEOUT} s"
        time.sleep(0.05)


def test_readyz_names_the_scheduler_and_the_worker_until_each_runs(app, client, worker_env):
    checks = _checks(client.get("/readyz"))
    assert checks["database"] == checks["redis"] == OK
    assert "scheduler" in checks["scheduler"] and "worker" in checks["worker"]

    scheduler = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--burst"]
    subprocess.run(
        scheduler, env=worker_env, cwd=ROOT, check=True, capture_output=True, timeout=READY_TIMEOUT
    )
    checks = _checks(client.get("/readyz"))
    assert checks["scheduler"] == OK and checks["worker"] != OK

    worker = subprocess.Popen(
        worker_command(burst=False), env=worker_env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        assert set(_wait_until_ready(client, worker).values()) == {OK}
        _wait_until_listening(worker)
    finally:
        worker.send_signal(signal.SIGTERM)  # a warm shut-down: the worker says it is gone
        worker.wait(timeout=READY_TIMEOUT)
    stopped = client.get("/readyz")
    assert stopped.status_code == 503 and "worker" in _checks(stopped)["worker"]
