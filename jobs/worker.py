"""The RQ worker process, run inside the Flask app context."""

from __future__ import annotations

from rq import Worker

from webapp import stats
from webapp.extensions import db
from webapp.logs import JOB_ID, REQUEST_ID
from webapp.queueing import REQUEST_ID_META, JsonPayloads


class AppWorker(JsonPayloads, Worker):
    """A forking worker of JSON jobs whose work horses never reuse the parent's database
    connections. While it works on a job, its log lines (and its work horse's) carry the job's
    id and the id of the request that enqueued it."""

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
