"""The RQ worker process, run inside the Flask app context."""

from __future__ import annotations

import logging
import os
import time

from flask import current_app
from rq import Worker

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

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._parent_pid = os.getpid()
        self._next_review = 0.0
        self.stop_asked = False  # by a signal: `flask worker` ends instead of starting a new worker

    def request_stop(self, signum, frame):
        self.stop_asked = True
        super().request_stop(signum, frame)

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
