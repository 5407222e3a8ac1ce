"""Periodic jobs, kept as data and reconciled at scheduler start so restarts add no duplicates."""

from __future__ import annotations

from rq_scheduler import Scheduler

from . import maintenance, reminders
from .payloads import JsonJob, JsonQueue

PERIODIC_PREFIX = "periodic-"

# (cron in UTC, function, queue)
PERIODIC_JOBS = (
    ("* * * * *", reminders.run_sweep, "reminders"),
    ("2 * * * *", reminders.plan_overdue_mails, "reminders"),
    ("17 3 * * *", maintenance.purge_expired_records, "default"),
)


class AppScheduler(Scheduler):
    """rq-scheduler keeping JSON jobs and moving them onto JSON queues."""

    job_class = JsonJob
    queue_class = JsonQueue


def register_periodic_jobs(scheduler: Scheduler) -> None:
    """Replace whatever periodic jobs are scheduled with PERIODIC_JOBS (ids are stable)."""
    for job in scheduler.get_jobs():
        if job.id.startswith(PERIODIC_PREFIX):
            scheduler.cancel(job)
    for cron, func, queue in PERIODIC_JOBS:
        job_id = f"{PERIODIC_PREFIX}{func.__name__}"
        scheduler.cron(cron, func=func, id=job_id, queue_name=queue, use_local_timezone=False, result_ttl=600)
