"""The users of the load test (`python -m bench.load`), for locust.

TaskUser is a person working through their tasks: logs in through the real form, then, with no
pause between clicks (a closed loop: each simulated person asks as fast as the site answers),
opens the dashboard and the list, filters it, searches, loads more, adds a task and completes
one, as htmx asks (fragments) or as a browser without JavaScript (full pages). Each TaskUser
logs in as its own seeded account (LOAD_ACCOUNTS of them: `bench.load` seeds them).

The figures count from the moment every user has logged in (a login hashes the password with
argon2id: a fraction of a second of CPU each, eight at once), for LOAD_SECONDS; locust then stops.
bench.load learns that moment from the file LOAD_MEASURING_FILE, which appears then.

FloorUser asks Flask's hello-world behind the same nginx, with a session cookie, so nginx passes
it on to the app instances as it does every signed-in request (never from its micro-cache).
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, tag, task
from locust.env import Environment

from bench.load_mix import (
    FILTERS,
    HTMX,
    PASSWORD,
    SEARCH_WORDS,
    USER_AGENT,
    WEIGHTS,
    ListSeen,
    account_email,
    new_task_title,
)

ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "8"))
USERS = int(os.environ.get("LOAD_USERS", "8"))
SECONDS = float(os.environ.get("LOAD_SECONDS", "20"))
MEASURING_FILE = os.environ.get("LOAD_MEASURING_FILE")
_account_numbers = itertools.count()
_ready_users = itertools.count(1)


def user_ready(environment: Environment) -> None:
    """Once every user is ready, forget what was measured so far and stop after SECONDS."""
    if next(_ready_users) != USERS:
        return
    environment.runner.stats.reset_all()
    if MEASURING_FILE:
        Path(MEASURING_FILE).touch()
    gevent.spawn_later(SECONDS, environment.runner.quit)


class TaskUser(FastHttpUser):
    wait_time = constant(0)
    default_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}

    @property
    def _htmx(self) -> dict[str, str]:
        """What htmx sends with a form: the page it is on (Flask-WTF checks it over HTTPS)."""
        return {**HTMX, "Referer": f"{self.host}/tasks"}

    def on_start(self) -> None:
        number = next(_account_numbers) % ACCOUNTS
        self.seen = ListSeen()
        self.seen.read(self.client.get("/login", name="log in (form)").text)
        self.client.post(
            "/login",
            data={"email": account_email(number), "password": PASSWORD, "csrf_token": self.seen.csrf_token},
            name="log in",
        )
        self.seen.read_list(self.client.get("/tasks", name="list (page)").text)
        user_ready(self.environment)

    def _get_list(self, path: str, name: str, *, fragment: bool) -> None:
        headers = HTMX if fragment else {}
        with self.client.get(path, headers=headers, name=name, catch_response=True) as answer:
            if (
                answer.status_code == 200
                and "task-row" not in answer.text
                and "task-empty" not in answer.text
            ):
                answer.failure("the list shows no rows")
            elif answer.status_code == 200:
                self.seen.read_list(answer.text)

    @task(WEIGHTS["dashboard"])
    def dashboard(self) -> None:
        self.client.get("/", name="dashboard")

    @task(WEIGHTS["list_page"])
    def list_page(self) -> None:
        self._get_list("/tasks", "list (page)", fragment=False)

    @task(WEIGHTS["list_fragment"])
    def list_fragment(self) -> None:
        self._get_list("/tasks", "list (htmx)", fragment=True)

    @task(WEIGHTS["filter_list"])
    def filter_list(self) -> None:
        self._get_list(f"/tasks?{random.choice(FILTERS)}", "filter (htmx)", fragment=True)

    @task(WEIGHTS["search"])
    def search(self) -> None:
        self._get_list(f"/tasks?q={random.choice(SEARCH_WORDS)}", "search (htmx)", fragment=True)

    @task(WEIGHTS["load_more"])
    def load_more(self) -> None:
        if self.seen.next_page:
            self._get_list(self.seen.next_page, "load more (htmx)", fragment=True)
        else:
            self.list_fragment()

    @tag("write")
    @task(WEIGHTS["create"])
    def create(self) -> None:
        title = new_task_title(random.choice(SEARCH_WORDS), random.randrange(10**6))
        self.client.post(
            "/tasks",
            data={"title": title, "csrf_token": self.seen.csrf_token},
            headers=self._htmx,
            name="create (htmx)",
        )

    @tag("write")
    @task(WEIGHTS["complete"])
    def complete(self) -> None:
        if not self.seen.open_tasks:
            return self.list_page()
        path = self.seen.open_tasks.pop(random.randrange(len(self.seen.open_tasks)))
        self.client.post(
            path, data={"csrf_token": self.seen.csrf_token}, headers=self._htmx, name="complete (htmx)"
        )


class FloorUser(FastHttpUser):
    wait_time = constant(0)
    default_headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip", "Cookie": "session=floor"}

    def on_start(self) -> None:
        user_ready(self.environment)

    @task
    def hello(self) -> None:
        self.client.get("/", name="hello-world")
