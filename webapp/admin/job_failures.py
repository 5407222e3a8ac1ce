"""Failed jobs: RQ keeps each queue's in its FailedJobRegistry (for a year by default). Admins
list them with their errors, retry (requeue) or delete one or all; each is audited.

A retried job runs again as it was enqueued, with the same arguments: our jobs are safe to run
twice (a send job sends only what its lease still holds, see webapp/reminders/delivery.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import abort
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import validate_job_id
from rq.registry import FailedJobRegistry
from rq.results import Result

from jobs import QUEUES

from ..extensions import db, queues
from ..models import User
from ..queueing import JsonJob, JsonQueue
from ..text import last_line
from .models import AuditAction
from .services import audit

SHOWN_PER_QUEUE = 100  # the newest failures of each queue; "retry all" takes the rest too
NO_ERROR = "No error was recorded."
LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FailedJob:
    id: str
    queue: str
    function: str
    failed_at: datetime | None
    error: str

    @property
    def error_summary(self) -> str:
        return last_line(self.error) or NO_ERROR


def failed_registry(queue: JsonQueue) -> FailedJobRegistry:
    return FailedJobRegistry(queue=queue, job_class=JsonJob)


def _registries() -> list[FailedJobRegistry]:
    return [failed_registry(queues.queue(name)) for name in QUEUES]


def _failed_job(job: JsonJob) -> FailedJob:
    result = job.latest_result()
    return FailedJob(
        id=job.id,
        queue=job.origin,
        function=job.func_name or "?",
        failed_at=job.ended_at,
        error=result.exc_string or "" if result and result.type == Result.Type.FAILED else "",
    )


def failed_jobs() -> list[FailedJob]:
    """The failed jobs of every queue, newest first (at most SHOWN_PER_QUEUE of each)."""
    found = []
    for registry in _registries():
        ids = registry.get_job_ids(0, SHOWN_PER_QUEUE - 1, desc=True)
        found += [_failed_job(job) for job in JsonJob.fetch_many(ids, connection=queues.connection) if job]
    return sorted(found, key=lambda job: job.failed_at or LONG_AGO, reverse=True)


def _registry_holding(job_id: str) -> tuple[FailedJobRegistry, JsonJob]:
    """The failed job and its queue's registry; a 404 when no queue holds it as failed (another
    admin retried or deleted it, or it never was)."""
    try:
        validate_job_id(job_id)  # RQ's own rule for what a job id is made of
        job = JsonJob.fetch(job_id, connection=queues.connection)
    except (ValueError, NoSuchJobError):
        abort(404)
    if job.origin not in QUEUES:
        abort(404)
    registry = failed_registry(queues.queue(job.origin))
    if job_id not in registry:
        abort(404)
    return registry, job


def retry(actor: User, job_id: str) -> str:
    """Put the failed job back on its queue; what to tell the admin."""
    registry, job = _registry_holding(job_id)
    try:
        registry.requeue(job)
    except InvalidJobOperation:  # another admin took it out of the registry a moment ago
        abort(404)
    _audited(actor, AuditAction.RETRY_JOB, job_id, f"{job.func_name} on {job.origin}")
    return f"The job {job_id} is back on the {job.origin} queue."


def delete(actor: User, job_id: str) -> str:
    registry, job = _registry_holding(job_id)
    if not registry.remove(job, delete_job=True):
        abort(404)
    _audited(actor, AuditAction.DELETE_JOB, job_id, f"{job.func_name} on {job.origin}")
    return f"The job {job_id} is deleted."


def retry_all(actor: User) -> str:
    retried = _for_each_failed(lambda registry, job_id: registry.requeue(job_id))
    _audited(actor, AuditAction.RETRY_ALL_JOBS, _jobs(retried))
    return f"{_jobs(retried).capitalize()} back on their queues."


def delete_all(actor: User) -> str:
    deleted = _for_each_failed(lambda registry, job_id: registry.remove(job_id, delete_job=True))
    _audited(actor, AuditAction.DELETE_ALL_JOBS, _jobs(deleted))
    return f"{_jobs(deleted).capitalize()} deleted."


def _for_each_failed(act: Callable[[FailedJobRegistry, str], object]) -> int:
    """Apply `act` to every failed job of every queue; on how many it did something (a job
    another admin took meanwhile, or whose data expired, is passed over)."""
    done = 0
    for registry in _registries():
        for job_id in registry.get_job_ids():
            try:
                done += bool(act(registry, job_id))
            except (InvalidJobOperation, NoSuchJobError):
                continue
    return done


def _jobs(count: int) -> str:
    return f"{count} failed {'job' if count == 1 else 'jobs'}"


def _audited(actor: User, action: AuditAction, target: str, details: str = "") -> None:
    audit(actor, action, target, details)
    db.session.commit()
