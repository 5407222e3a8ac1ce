"""How jobs are kept in Redis: as JSON, never as pickle.

RQ pickles a job's function name, arguments, meta and result by default, and unpickling runs
whatever the pickle says: anyone who can write to Redis could then run code in every worker. Here
every job, queue, worker and scheduler reads and writes JSON, so a job's arguments are what JSON
holds (ids, strings, numbers, ISO 8601 dates); enqueuing an object fails at once with a
TypeError, and a payload that is not JSON fails its job without running anything.

A job enqueued while a request is served keeps the request's id in its meta, so the worker's
log lines for it carry that id too (webapp/logs.py).

rq-dashboard reads the queues with the same serializer when its setting says so (see README).
"""

from __future__ import annotations

import logging

from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

from .logs import REQUEST_ID

SERIALIZER = JSONSerializer
REQUEST_ID_META = "request_id"

log = logging.getLogger(__name__)


class JsonJob(Job):
    """A job stored as JSON, whatever serializer the caller hands RQ."""

    def __init__(self, id: str | None = None, connection=None, serializer=None) -> None:
        super().__init__(id, connection, serializer=SERIALIZER)

    @classmethod
    def create(cls, *args, **kwargs) -> JsonJob:
        job = super().create(*args, **kwargs)
        if (request_id := REQUEST_ID.get()) is not None:
            job.meta.setdefault(REQUEST_ID_META, request_id)
        return job


class JsonQueue(Queue):
    """A queue whose jobs are JsonJobs."""

    job_class = JsonJob

    def __init__(self, name: str = "default", connection=None, **options) -> None:
        options["serializer"] = SERIALIZER
        super().__init__(name, connection, **options)

    def push_job_id(self, job_id: str, pipeline=None, at_front: bool = False) -> None:
        super().push_job_id(job_id, pipeline=pipeline, at_front=at_front)
        log.info("queuing job %s on %s", job_id, self.name)


class JsonPayloads:
    """Worker mixin: dequeue JsonQueues, run JsonJobs, save results as JSON."""

    job_class = JsonJob
    queue_class = JsonQueue

    def __init__(self, queues, *args, **kwargs) -> None:
        kwargs["serializer"] = SERIALIZER
        super().__init__(queues, *args, **kwargs)
