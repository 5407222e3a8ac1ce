"""Periodic jobs, kept as data and reconciled at scheduler start so restarts add no duplicates;
and the scheduler's tick, which /readyz looks for."""

from __future__ import annotations

import time
import warnings

from redis import Redis
from rq_scheduler import Scheduler

from webapp.admin.site_stats import COUNT_EVERY_MINUTES
from webapp.queueing import JsonJob, JsonQueue

from . import backups, maintenance, reminders, site_stats

PERIODIC_PREFIX = "periodic-"
TICK_KEY = "tasklane:scheduler:tick"  # when a scheduler last ticked (Unix time)
TICK_KEPT = 7 * 24 * 3600  # long enough to say how long ago the last tick was

# rq-scheduler calls crontab without default_utc; it passes aware UTC times, so the warning that
# crontab prints at every start is noise.
warnings.filterwarnings("ignore", r"Version 0\.22\.0\+ of crontab", FutureWarning)

# (cron in UTC, function, queue)
PERIODIC_JOBS = (
    ("* * * * *", reminders.run_sweep, "reminders"),
    ("2 * * * *", reminders.plan_overdue_mails, "reminders"),
    ("17 3 * * *", maintenance.purge_expired_records, "default"),
    ("40 2 * * *", backups.take_nightly_backup, "default"),
    (f"*/{COUNT_EVERY_MINUTES} * * * *", site_stats.count_overview_figures, "default"),
)
# Seconds a periodic job may run, where RQ's default (180 s) is too short.
TIMEOUTS = {backups.take_nightly_backup: backups.TIMEOUT_SECONDS}


class AppScheduler(Scheduler):
    """rq-scheduler keeping JSON jobs and moving them onto JSON queues, and leaving a tick in
    Redis each time it polls (whether or not it holds the lock: a second scheduler that waits is
    alive too)."""

    job_class = JsonJob
    queue_class = JsonQueue

    def heartbeat(self) -> None:
        super().heartbeat()
        self.connection.set(TICK_KEY, time.time(), ex=TICK_KEPT)


def seconds_since_tick(connection: Redis) -> float | None:
    """How long ago a scheduler last polled; None when none has (this week)."""
    tick = connection.get(TICK_KEY)
    return None if tick is None else max(0.0, time.time() - float(tick))


def register_periodic_jobs(scheduler: Scheduler) -> None:
    """Replace whatever periodic jobs are scheduled with PERIODIC_JOBS (ids are stable)."""
    for job in scheduler.get_jobs():
        if job.id.startswith(PERIODIC_PREFIX):
            scheduler.cancel(job)
    for cron, func, queue in PERIODIC_JOBS:
        job_id = f"{PERIODIC_PREFIX}{func.__name__}"
        scheduler.cron(
            cron,
            func=func,
            id=job_id,
            queue_name=queue,
            use_local_timezone=False,
            result_ttl=600,
            timeout=TIMEOUTS.get(func),
        )
