"""The RQ worker process, run inside the Flask app context."""

from __future__ import annotations

import logging
import os
import time

from flask import current_app
from redis.exceptions import RedisError
from rq import Worker
from rq.worker import WorkerStatus

from webapp import stats
from webapp.extensions import db
from webapp.logs import JOB_ID, REQUEST_ID
from webapp.ops import alerts
from webapp.queueing import REQUEST_ID_META, JsonPayloads
from webapp.reminders.dispatch import dispatch_ready

from .reminders import enqueue_send_jobs

log = logging.getLogger(__name__)


class AppWorker(JsonPayloads, Worker):
    """A forking worker of JSON jobs whose work horses never reuse the parent's database
    connections. While it works on a job, its log lines (and its work horse's) carry the job's
    id and the id of the request that enqueued it. It reviews the alerts every
    ALERT_CHECK_SECONDS (webapp/ops/alerts.py), with each heartbeat that comes after."""

    # RQ doubles its wait between attempts to reach Redis up to a minute; after a failover or a
    # restart, jobs should not wait that long for a worker that is merely asleep.
    max_connection_wait_time = 5.0

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._parent_pid = os.getpid()
        self._next_review = 0.0
        self.stop_asked = False  # by a signal: `flask worker` ends instead of starting a new worker

    def request_stop(self, signum, frame):
        self.stop_asked = True
        if self.get_state() != WorkerStatus.BUSY:
            # The signal interrupts the wait for a job, whose BLPOP stays blocked in Redis: the
            # connection it leaves in the pool would make the goodbye wait behind it (up to the
            # dequeue timeout, 45 s) and then read the BLPOP's answer as its own.
            self.connection.connection_pool.disconnect()
        super().request_stop(signum, frame)

    def unsubscribe(self):
        """Leave the command channel; after a failover its connection went with the old primary,
        and the worker still says goodbye (registers its death) on the new one."""
        try:
            super().unsubscribe()
        except RedisError as error:
            log.warning("the command channel was lost with Redis: %s", error)
            self.pubsub_thread.stop()
            self.pubsub.close()

    def execute_job(self, job, queue):
        REQUEST_ID.set(job.meta.get(REQUEST_ID_META))
        JOB_ID.set(job.id)
        try:
            return super().execute_job(job, queue)
        finally:
            REQUEST_ID.set(None)
            JOB_ID.set(None)

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    def handle_job_success(self, job, queue, *args, **kwargs):
        super().handle_job_success(job, queue, *args, **kwargs)
        stats.count_job(self.connection, "succeeded")

    def handle_job_failure(self, job, queue, *args, **kwargs):
        super().handle_job_failure(job, queue, *args, **kwargs)
        stats.count_job(self.connection, "failed")

    def heartbeat(self, *args, **kwargs):
        super().heartbeat(*args, **kwargs)
        if os.getpid() == self._parent_pid and time.monotonic() >= self._next_review:
            self._next_review = time.monotonic() + current_app.config["ALERT_CHECK_SECONDS"]
            self.review_alerts()

    def review_alerts(self) -> None:
        """Review the alerts, and hand their mail out to send jobs at once (this worker takes
        them next): the scheduler's sweep, which otherwise hands mail out, may be what died."""
        try:
            alerts.check_and_review(lambda: dispatch_ready(enqueue_send_jobs))
        finally:
            db.session.remove()
