"""The RQ worker process, run inside the Flask app context."""

from __future__ import annotations

from rq import Worker

from webapp import stats
from webapp.extensions import db

from .payloads import JsonPayloads


class AppWorker(JsonPayloads, Worker):
    """A forking worker of JSON jobs whose work horses never reuse the parent's database
    connections."""

    def main_work_horse(self, job, queue):
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)

    def handle_job_success(self, job, queue, *args, **kwargs):
        super().handle_job_success(job, queue, *args, **kwargs)
        stats.count_job(self.connection, "succeeded")

    def handle_job_failure(self, job, queue, *args, **kwargs):
        super().handle_job_failure(job, queue, *args, **kwargs)
        stats.count_job(self.connection, "failed")
