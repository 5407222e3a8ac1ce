"""How fast do reminders go out, alone and behind the 09:00 flood? The real dispatch, a local SMTP server.

    python -m bench.reminders            # 100,000 users, each with a task and a reminder due now
    python -m bench.reminders --mixed    # 100,000 daily mails at 09:00, then 1,000 reminders fall due
    python -m bench.reminders --quick    # 5,000 (mixed: 5,000 daily mails + 100 reminders)
    python -m bench.reminders --users 20000 --workers 2 --database-url postgresql://…/bench

Seeds a fresh database through the real migrations, measures how fast the same SMTP server
(Postfix's smtp-sink where installed: `apt-get install postfix`; else aiosmtpd)
accepts messages from a plain loop over one connection (the baseline), starts real `flask worker`
processes on every queue (their output goes to a log file, searched for errors afterwards), and
waits until every mail arrived.

- Plain: every reminder is due at one moment; the real sweep runs in this process.
- Mixed: every user is in a zone where it is just past 09:00 and has a task due tomorrow. The sweep
  at that moment T plans and hands out one "due tomorrow" mail per user. Once a share of them
  arrived (--reminders-after), the per-task reminders fall due at moment R, and a sweep is put on
  the planning queue, as the every-minute scheduler does. Lateness is arrival minus T for the
  daily mails and minus R for the reminders.

Prints, per kind of mail, p50/p99 lateness, what was lost or duplicated, the delivered rate and its
ratio to the baseline; writes bench/results/reminders.json (mixed: reminders-mixed.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

from bench.common import (
    BASELINE_MESSAGES,
    code_version,
    delivery_outcome,
    mail_rig,
    mail_totals,
    make_reminders_due,
    print_outcome,
    seed_users,
)
from bench.smtp_sink import SINKS, default_sink

RESULTS = Path(__file__).parent / "results"
# The figures issue 8 asks of the mixed case.
REMINDER_P99_GOAL_SECONDS = 30
ALL_DELIVERED_GOAL_SECONDS = 150


def _sweep_figures(report: dict) -> dict:
    return {name: value for name, value in report.items() if name != "lease_tokens"}


def _job_figures(job) -> dict:
    """How long a sweep job waited for a worker and ran, and what it reported."""
    job.refresh()
    status = job.get_status()
    ran = job.started_at is not None and job.ended_at is not None
    return {
        "status": status.value if status else "expired",
        "waited_for_a_worker_seconds": (job.started_at - job.enqueued_at).total_seconds() if ran else None,
        "seconds": (job.ended_at - job.started_at).total_seconds() if ran else None,
        "report": _sweep_figures(job.return_value() or {}),
    }


def run_plain(rig, args) -> dict:
    from jobs.reminders import run_sweep
    from webapp.extensions import db
    from webapp.reminders.kinds import MailKind
    from webapp.timezones import now_utc

    users = args.users or (5_000 if args.quick else 100_000)
    print(f"seeding {users:,} users, each with a task and a reminder")
    seed_users(users, with_reminder=users)
    baseline = rig.baseline_rate(min(users, BASELINE_MESSAGES))
    print(f"baseline: the SMTP server accepts {baseline:,.0f} messages/s from a plain loop")

    rig.start_workers(args.workers)
    cpu_at_start = rig.cpu_seconds()
    due = now_utc()
    make_reminders_due(due)
    started = time.time()
    rig.sweep_every_minute()
    report = run_sweep(due)
    sweep_seconds = time.time() - started
    print(
        f"sweep: {report['reminders']:,} reminders claimed,"
        f" {report['leased']:,} leased in {sweep_seconds:.1f} s"
    )
    rig.wait_for_mail(users, args.timeout)
    rig.wait_until_idle()

    reminder = MailKind.REMINDER.value
    outcome = delivery_outcome(rig.sink, {reminder: users}, {reminder: due.timestamp()})
    totals = mail_totals(rig.sink, outcome, due.timestamp(), baseline)
    totals["cpu_ms_per_mail"] = rig.cpu_ms_per_mail(cpu_at_start, totals["delivered"])
    figures = {
        "case": "plain",
        "database": db.engine.dialect.name,
        "reminders": users,
        **totals,
        "lateness_p50_seconds": outcome[reminder].lateness_p50_seconds,
        "lateness_p99_seconds": outcome[reminder].lateness_p99_seconds,
        "deliveries_not_marked_sent": outcome[reminder].not_marked_sent,
        "sweep_seconds": sweep_seconds,
        "sweep": _sweep_figures(report),
        "minute_sweeps": rig.minute_sweep_figures(),
        "kinds": {kind: asdict(each) for kind, each in outcome.items()},
    }
    print(f"\n{figures['database']}, {users:,} reminders due at one moment, {args.workers} workers")
    print_outcome(outcome)
    _print_totals(figures)
    return figures


def _zone_just_past(at, now: datetime) -> str:
    """The zone whose clock passed `at` most recently: there, `now` is the moment `at` came."""
    from webapp.timezones import all_timezones, local_to_utc, to_local

    def since(tz: str) -> timedelta:
        return now - local_to_utc(to_local(now, tz).date(), at, tz)

    return min((tz for tz in all_timezones() if since(tz) >= timedelta(0)), key=since)


def run_mixed(rig, args) -> dict:
    from jobs.reminders import run_sweep
    from webapp.extensions import db
    from webapp.reminders.dispatch import DUE_TOMORROW_AT
    from webapp.reminders.kinds import MailKind
    from webapp.timezones import local_to_utc, local_today, now_utc, to_local

    users = args.users or (5_000 if args.quick else 100_000)
    reminders = args.reminders or (100 if args.quick else 1_000)
    zone = _zone_just_past(DUE_TOMORROW_AT, now_utc())
    tomorrow = local_today(zone) + timedelta(days=1)
    print(f"seeding {users:,} users in {zone}, each with a task due tomorrow; {reminders:,} with a reminder")
    seed_users(
        users,
        with_reminder=reminders,
        timezone=zone,
        task_due_at=local_to_utc(tomorrow, DUE_TOMORROW_AT, zone),
        mail_due_tomorrow=True,
    )
    baseline = rig.baseline_rate(min(users, BASELINE_MESSAGES))
    print(f"baseline: the SMTP server accepts {baseline:,.0f} messages/s from a plain loop")
    rig.start_workers(args.workers)
    cpu_at_start = rig.cpu_seconds()

    nine = now_utc()  # T: 09:00 has just come in `zone`
    rig.sweep_every_minute()
    report = run_sweep(nine)
    sweep_seconds = (now_utc() - nine).total_seconds()
    print(
        f"09:00 sweep ({to_local(nine, zone):%H:%M:%S} in {zone}): {report['due_tomorrow']:,} daily mails"
        f" planned, {report['leased']:,} leased in {sweep_seconds:.1f} s"
    )
    rig.wait_for_mail(int(users * args.reminders_after), args.timeout, "daily mails first")
    arrived_before = len(rig.sink.received)
    reminders_due = now_utc()  # R
    make_reminders_due(reminders_due)
    job = rig.enqueue_sweep()
    print(
        f"{reminders:,} reminders due {(reminders_due - nine).total_seconds():.1f} s after 09:00;"
        " their sweep is queued"
    )
    rig.wait_for_mail(users + reminders, args.timeout)
    rig.wait_until_idle()

    daily, reminder = MailKind.DUE_TOMORROW.value, MailKind.REMINDER.value
    outcome = delivery_outcome(
        rig.sink,
        {daily: users, reminder: reminders},
        {daily: nine.timestamp(), reminder: reminders_due.timestamp()},
    )
    totals = mail_totals(rig.sink, outcome, nine.timestamp(), baseline)
    totals["cpu_ms_per_mail"] = rig.cpu_ms_per_mail(cpu_at_start, totals["delivered"])
    reminder_p99 = outcome[reminder].lateness_p99_seconds
    figures = {
        "case": "mixed",
        "database": db.engine.dialect.name,
        "zone": zone,
        "daily_mails": users,
        "reminders": reminders,
        "reminders_due_after_seconds": (reminders_due - nine).total_seconds(),
        "daily_arrived_when_reminders_fell_due": arrived_before,
        **totals,
        "sweep_seconds": sweep_seconds,
        "sweep": _sweep_figures(report),
        "minute_sweeps": rig.minute_sweep_figures(),
        "reminder_sweep": _job_figures(job),
        "kinds": {kind: asdict(each) for kind, each in outcome.items()},
        "goals": {
            f"reminders p99 lateness <= {REMINDER_P99_GOAL_SECONDS} s": reminder_p99 is not None
            and reminder_p99 <= REMINDER_P99_GOAL_SECONDS,
            f"all mails in < {ALL_DELIVERED_GOAL_SECONDS} s": totals["seconds_to_deliver_all"]
            < ALL_DELIVERED_GOAL_SECONDS,
            "0 lost": totals["lost"] == 0,
            "0 duplicated": totals["duplicated"] == 0,
        },
    }
    sweep = figures["reminder_sweep"]
    print(
        f"\n{figures['database']}, {users:,} daily mails at 09:00 + {reminders:,} reminders due"
        f" {figures['reminders_due_after_seconds']:.1f} s later ({arrived_before:,} daily mails had arrived),"
        f" {args.workers} workers"
    )
    print_outcome(outcome)
    _print_totals(figures)
    if sweep["seconds"] is not None:
        print(
            f"  reminders' sweep  waited {sweep['waited_for_a_worker_seconds']:.1f} s for a worker,"
            f" ran {sweep['seconds']:.1f} s"
        )
    else:
        print(f"  reminders' sweep  {sweep['status']}")
    for goal, met in figures["goals"].items():
        print(f"  goal  {goal:<34} {'met' if met else 'MISSED'}")
    return figures


def _print_totals(figures: dict) -> None:
    print(
        f"  all           {figures['delivered']:,} in {figures['seconds_to_deliver_all']:.1f} s"
        f" = {figures['delivered_per_second']:,.0f}/s ({figures['ratio_to_baseline']:.2f}x the plain SMTP"
        f" loop's {figures['baseline_smtp_loop_per_second']:,.0f}/s)\n"
        f"  CPU per mail  "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in figures["cpu_ms_per_mail"].items())
        + f"\n  lost {figures['lost']}   duplicated {figures['duplicated']}"
        f"   unexpected {figures['unexpected']}\n"
        f"  first sweep {figures['sweep_seconds']:.1f} s;"
        f" the every-minute sweeps ran {figures['minute_sweeps']['count']} times"
        f" and handed out {figures['minute_sweeps']['leased_again']:,} again (their lease had run out)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mixed", action="store_true", help="reminders falling due behind the 09:00 mails")
    parser.add_argument("--quick", action="store_true", help="5,000 users (mixed: and 100 reminders)")
    parser.add_argument("--users", type=int, help="users, each with a reminder or (mixed) a daily mail")
    parser.add_argument("--reminders", type=int, help="mixed: per-task reminders (default 1,000)")
    parser.add_argument(
        "--reminders-after",
        type=float,
        default=0.05,
        help="mixed: share of the daily mails that arrived before the reminders fall due",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--sink",
        choices=sorted(SINKS),
        default=default_sink(),
        help="the SMTP server: Postfix's smtp-sink (C, cheap; the default where installed) or aiosmtpd",
    )
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for every mail")
    parser.add_argument("--output", type=Path, help="where to write the figures (JSON)")
    parser.add_argument(
        "--worker-log", type=Path, help="the workers' output (default: in the temporary folder)"
    )
    args = parser.parse_args(argv)
    output = args.output or RESULTS / ("reminders-mixed.json" if args.mixed else "reminders.json")

    machine = {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0], "commit": code_version()}
    with mail_rig(args.database_url, args.sink, args.worker_log) as rig:
        figures = (run_mixed if args.mixed else run_plain)(rig, args)
        figures.update(machine, workers=args.workers, smtp_sink=args.sink)
    figures.update(
        load_average_at_end=os.getloadavg()[0],
        worker_log=str(rig.worker_log),
        worker_log_problems=rig.worker_log_problems(),
    )
    print(
        f"  worker log {rig.worker_log}: "
        + ", ".join(f"{problem!r} {count}" for problem, count in figures["worker_log_problems"].items())
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(figures, indent=2, default=str))
    print(f"written to {output}")
    return 0 if figures["lost"] == 0 and figures["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
