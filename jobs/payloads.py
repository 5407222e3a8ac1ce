"""How jobs are kept in Redis: as JSON, never as pickle.

RQ pickles a job's function name, arguments, meta and result by default, and unpickling runs
whatever the pickle says: anyone who can write to Redis could then run code in every worker. Here
every job, queue, worker and scheduler reads and writes JSON, so a job's arguments are what JSON
holds (ids, strings, numbers, ISO 8601 dates); enqueuing an object fails at once with a
TypeError, and a payload that is not JSON fails its job without running anything.

rq-dashboard reads the queues with the same serializer when its setting says so (see README).
"""

from __future__ import annotations

from rq import Queue
from rq.job import Job
from rq.serializers import JSONSerializer

SERIALIZER = JSONSerializer


class JsonJob(Job):
    """A job stored as JSON, whatever serializer the caller hands RQ."""

    def __init__(self, id: str | None = None, connection=None, serializer=None) -> None:
        super().__init__(id, connection, serializer=SERIALIZER)


class JsonQueue(Queue):
    """A queue whose jobs are JsonJobs."""

    job_class = JsonJob

    def __init__(self, name: str = "default", connection=None, **options) -> None:
        options["serializer"] = SERIALIZER
        super().__init__(name, connection, **options)


class JsonPayloads:
    """Worker mixin: dequeue JsonQueues, run JsonJobs, save results as JSON."""

    job_class = JsonJob
    queue_class = JsonQueue

    def __init__(self, queues, *args, **kwargs) -> None:
        kwargs["serializer"] = SERIALIZER
        super().__init__(queues, *args, **kwargs)
