"""What the overview reads from Redis each time it is shown: active users, rate-limit refusals,
cache hits, the job queues, the workers and the scheduler's jobs.

Read in one go over the queues' short-timeout connection: if Redis does not answer the first
command, nothing else is tried and the page says these figures are unavailable, after at most
one REDIS_SOCKET_TIMEOUT (a hung Redis costs that once, not once per figure).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from redis.exceptions import RedisError
from rq import Worker

from jobs import QUEUES
from jobs.schedule import AppScheduler

from .. import cache, stats
from ..extensions import queues
from ..queueing import SERIALIZER, JsonJob, JsonQueue
from .job_failures import failed_registry

log = logging.getLogger(__name__)

# The cached views (webapp/cache.py), as the overview names them.
CACHED_PAGES = {
    "dashboard": "Dashboard",
    "today": "Today",
    "upcoming": "Upcoming",
    "task_list": "Task list",
    "project_tasks": "Project tasks",
    "bell": "Notification bell",
}


@dataclass(frozen=True)
class CachedPage:
    label: str
    hits: int  # answered from the cache: fresh, stale, or "not modified"
    misses: int

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_ratio(self) -> float | None:
        return self.hits / self.lookups if self.lookups else None


@dataclass(frozen=True)
class QueueState:
    name: str
    waiting: int
    failed: int


@dataclass(frozen=True)
class WorkerState:
    name: str
    state: str
    queues: list[str]
    last_heartbeat: datetime | None
    successful_jobs: int
    failed_jobs: int


@dataclass(frozen=True)
class ScheduledJob:
    function: str
    cron: str | None
    next_run: datetime


@dataclass
class LiveFacts:
    active_last_24h: int
    active_last_7d: int
    active: list[tuple[date, int]]  # per day
    refusals_total: int
    refusals: list[tuple[date, int]]  # per day
    queues: list[QueueState]
    workers: list[WorkerState]
    scheduled: list[ScheduledJob]
    cache: list[CachedPage] | None  # None: the cache is off (Redis failed it lately)

    @property
    def failed_jobs(self) -> int:
        return sum(queue.failed for queue in self.queues)


def read_live_facts(days: list[date]) -> LiveFacts | None:
    """The facts for a chart of `days` (oldest first, ending today, UTC); None when Redis does
    not answer."""
    connection = queues.connection
    today = days[-1]
    try:
        refusals = stats.rate_limit_refusals_by_day(connection, days)  # the first command: fails fast
        facts = LiveFacts(
            active_last_24h=stats.active_users(connection, [today, today - timedelta(days=1)]),
            active_last_7d=stats.active_users(
                connection, [today - timedelta(days=back) for back in range(7)]
            ),
            active=list(stats.active_users_by_day(connection, days).items()),
            refusals_total=stats.rate_limit_refusals(connection),
            refusals=list(refusals.items()),
            queues=[_queue_state(name, connection) for name in QUEUES],
            workers=_workers(connection),
            scheduled=_scheduled_jobs(connection),
            cache=None,
        )
    except RedisError as error:
        log.warning("the overview's live figures are unavailable: %s", error)
        return None
    facts.cache = _cached_pages()
    return facts


def _queue_state(name: str, connection) -> QueueState:
    queue = JsonQueue(name, connection=connection)
    return QueueState(name, queue.count, failed_registry(queue).count)


def _workers(connection) -> list[WorkerState]:
    workers = Worker.all(
        connection=connection, job_class=JsonJob, queue_class=JsonQueue, serializer=SERIALIZER
    )
    return [
        WorkerState(
            name=worker.name,
            state=worker.get_state(),
            queues=worker.queue_names(),
            last_heartbeat=worker.last_heartbeat,
            successful_jobs=worker.successful_job_count,
            failed_jobs=worker.failed_job_count,
        )
        for worker in sorted(workers, key=lambda worker: worker.name)
    ]


def _scheduled_jobs(connection) -> list[ScheduledJob]:
    """rq-scheduler's jobs (the periodic ones), soonest first; its times are naive UTC."""
    scheduler = AppScheduler(connection=connection)
    return [
        ScheduledJob(
            function=job.func_name.rsplit(".", 1)[-1],
            cron=job.meta.get("cron_string"),
            next_run=at.replace(tzinfo=UTC),
        )
        for job, at in scheduler.get_jobs(with_times=True)
    ]


def _cached_pages() -> list[CachedPage] | None:
    counts = cache.cache_stats()
    if not cache.is_available():  # its Redis failed while counting: the zeros mean nothing
        return None
    return [
        CachedPage(
            label=CACHED_PAGES.get(name, name),
            hits=outcomes["hit"] + outcomes["stale"] + outcomes["not_modified"],
            misses=outcomes["miss"],
        )
        for name, outcomes in counts.items()
    ]
