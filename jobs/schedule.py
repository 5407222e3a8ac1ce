"""Periodic jobs, kept as data and reconciled at scheduler start so restarts add no duplicates."""

from __future__ import annotations

from rq_scheduler import Scheduler

from . import maintenance

# (cron in UTC, function, queue)
PERIODIC_JOBS = ((("17 3 * * *"), maintenance.purge_expired_records, "default"),)


def register_periodic_jobs(scheduler: Scheduler) -> None:
    wanted = {f"periodic:{func.__module__}.{func.__name__}": (cron, func, queue) for cron, func, queue in PERIODIC_JOBS}
    for job in scheduler.get_jobs():
        if job.id.startswith("periodic:") and job.id not in wanted:
            scheduler.cancel(job)
    for job_id, (cron, func, queue) in wanted.items():
        if job_id in scheduler:
            scheduler.cancel(job_id)
        scheduler.cron(cron, func=func, id=job_id, queue_name=queue, use_local_timezone=False)
