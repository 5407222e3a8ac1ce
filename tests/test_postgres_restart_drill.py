"""Drill: the PostgreSQL primary restarts while people use the app through a real gunicorn.

Signed-in users add tasks and read their list without pause; the database is stopped (a clean
`pg_ctl stop -m fast`, as for a minor upgrade) and started again. While it is down the app answers
503 with Retry-After, never a 500 or a dropped connection; a few seconds after it is back every
request succeeds, from the same gunicorn, never restarted.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from bench.servers import running_gunicorns
from tests.conftest import PASSWORD
from tests.support import csrf_token_in, make_user

pytestmark = pytest.mark.own_postgres

USERS = 4  # one thread each, against two sync workers: requests queue as under real load
RECOVERY_SECONDS = 5  # after the server accepts connections again, every request succeeds
CALM_SECONDS = 3  # load kept up after the recovery, all of it successful


@pytest.fixture
def worker_env_overrides() -> dict[str, str]:
    return {"RATELIMIT_WRITES": "100000 per minute", "RATELIMIT_READS": "100000 per minute"}


@dataclass
class Outcomes:
    answers: list[tuple[float, int | str]] = field(default_factory=list)  # (when, status or error)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int | str) -> None:
        with self.lock:
            self.answers.append((time.monotonic(), status))

    def failed(self) -> list[tuple[float, int | str]]:
        return [(at, status) for at, status in self.answers if status not in (200, 303)]


def _signed_in(base_url: str, email: str) -> requests.Session:
    browser = requests.Session()
    response = browser.post(
        f"{base_url}/login",
        data={"email": email, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 303, response.text[:500]
    return browser


def _use_the_app(base_url: str, browser: requests.Session, outcomes: Outcomes, stop: threading.Event) -> None:
    token = csrf_token_in(browser.get(f"{base_url}/tasks", timeout=30).text)
    number = 0
    while not stop.is_set():
        number += 1
        try:
            added = browser.post(
                f"{base_url}/tasks",
                data={"title": f"Task {number}", "csrf_token": token},
                allow_redirects=False,
                timeout=30,
            )
            outcomes.add(added.status_code)
            outcomes.add(browser.get(f"{base_url}/tasks?sort=created", timeout=30).status_code)
        except requests.RequestException as error:  # a dropped connection: what must not happen
            outcomes.add(type(error).__name__)


def _timed_restart(own_postgres) -> tuple[float, float]:
    began = time.monotonic()
    own_postgres.restart()
    return began, time.monotonic()


def test_requests_fail_only_while_the_primary_restarts_and_succeed_again_without_restarting_the_app(
    postgres_settings, own_postgres, app, worker_env, tmp_path
):
    emails = [f"user{number}@example.com" for number in range(USERS)]
    for email in emails:
        make_user(email)
    began, ready = _timed_restart(own_postgres)
    quiet_restart = ready - began

    web_log = tmp_path / "web.log"
    with running_gunicorns({"web": ["wsgi:app"]}, worker_env, workers=2, log=web_log) as urls:
        base_url = urls["web"]
        browsers = [_signed_in(base_url, email) for email in emails]
        outcomes, stop = Outcomes(), threading.Event()
        users = [
            threading.Thread(target=_use_the_app, args=(base_url, browser, outcomes, stop))
            for browser in browsers
        ]
        for user in users:
            user.start()
        while len(outcomes.answers) < 20 * USERS:  # the load is under way
            time.sleep(0.05)
        began, ready = _timed_restart(own_postgres)
        while time.monotonic() < ready + RECOVERY_SECONDS + CALM_SECONDS:
            time.sleep(0.1)
        stop.set()
        for user in users:
            user.join(timeout=60)

    failed = outcomes.failed()
    print(
        f"\nrestart: {quiet_restart:.1f} s quiet, {ready - began:.1f} s under load;"
        f" {len(outcomes.answers)} requests, {len(failed)} failed"
        + (f" over {failed[-1][0] - failed[0][0]:.1f} s" if failed else "")
    )
    assert {status for _, status in failed} <= {503}, (
        "only 503s: no 500, no dropped connection",
        [status for _, status in failed],
        web_log.read_text()[-6000:],
    )
    assert all(began - 1 <= at <= ready + RECOVERY_SECONDS for at, _ in failed), (
        "failures only while the database restarted",
        [(round(at - began, 2), status) for at, status in failed],
    )
    after = [status for at, status in outcomes.answers if at > ready + RECOVERY_SECONDS]
    assert len(after) >= USERS, "the load went on after the restart"
