"""Failed jobs in the admin dashboard: jobs that really failed on a real worker, listed with their
errors, retried (run again) or deleted, one or all, each in the audit log."""

from __future__ import annotations

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from tests.support import page_text
from webapp.admin.models import AuditEntry
from webapp.extensions import db, queues
from webapp.queueing import JsonJob

HTMX = {"HX-Request": "true"}
# A real job with an argument it cannot take: it fails on the worker with ValueError.
BROKEN_CLOCK = "not a moment"


def _fail_a_job(run_jobs, queue: str = "default") -> str:
    job = queues.queue(queue).enqueue("jobs.site_stats.count_overview_figures", BROKEN_CLOCK)
    run_jobs()
    return job.id


def _failed(queue: str = "default") -> list[str]:
    return FailedJobRegistry(queue=queues.queue(queue), job_class=JsonJob).get_job_ids()


def _audited() -> list[tuple[str, str, str]]:
    """(action, target, details) of what admins did in the dashboard (not the fixture's promotion)."""
    entries = select(AuditEntry.action, AuditEntry.target, AuditEntry.details).where(
        AuditEntry.actor_id.is_not(None)
    )
    return [tuple(row) for row in db.session.execute(entries.order_by(AuditEntry.id))]


@pytest.fixture
def failed_job(app, run_jobs) -> str:
    job_id = _fail_a_job(run_jobs)
    assert _failed() == [job_id]
    return job_id


def test_a_failed_job_is_listed_with_its_error(admin_client, admin, failed_job):
    page = page_text(admin_client.get("/admin/jobs/failed"))
    assert '<code>jobs.site_stats.count_overview_figures</code> <span class="muted">on default</span>' in page
    assert "ValueError: Invalid isoformat string: &#39;not a moment&#39;" in page  # the last line, escaped
    assert "Traceback (most recent call last)" in page  # the whole error, under "The whole error"
    assert f"Job <code>{failed_job}</code>" in page


def test_the_overview_counts_failed_jobs_and_links_to_them(admin_client, admin, failed_job):
    page = page_text(admin_client.get("/admin/"))
    assert '<a class="stat stat-alert" href="/admin/jobs/failed">' in page


def test_retrying_puts_the_job_back_on_its_queue_and_the_worker_runs_it_again(
    admin_client, admin, failed_job, run_jobs
):
    response = admin_client.post(f"/admin/jobs/failed/{failed_job}/retry")
    assert response.status_code == 303 and response.headers["Location"] == "/admin/jobs/failed"
    assert _failed() == []
    assert queues.queue("default").job_ids == [failed_job]
    assert _audited() == [("retry_job", failed_job, "jobs.site_stats.count_overview_figures on default")]
    assert f"The job {failed_job} is back on the default queue." in page_text(
        admin_client.get("/admin/jobs/failed")
    )

    run_jobs()  # the same arguments, so it fails the same way: it did run again
    assert _failed() == [failed_job]
    assert JsonJob.fetch(failed_job, connection=queues.connection).latest_result().exc_string


def test_retrying_a_job_twice_retries_it_once(admin_client, admin, failed_job):
    assert admin_client.post(f"/admin/jobs/failed/{failed_job}/retry").status_code == 303
    assert admin_client.post(f"/admin/jobs/failed/{failed_job}/retry").status_code == 404
    assert queues.queue("default").job_ids == [failed_job]
    assert len(_audited()) == 1


def test_deleting_a_job_removes_it_and_its_data(admin_client, admin, failed_job):
    response = admin_client.post(f"/admin/jobs/failed/{failed_job}/delete", headers=HTMX)
    assert response.status_code == 200
    assert f"The job {failed_job} is deleted." in page_text(response)
    assert "No failed jobs." in page_text(response)
    assert _failed() == []
    assert not queues.connection.exists(f"rq:job:{failed_job}")
    assert _audited() == [("delete_job", failed_job, "jobs.site_stats.count_overview_figures on default")]


def test_an_unknown_or_malformed_job_is_a_404(admin_client, admin, failed_job):
    assert admin_client.post("/admin/jobs/failed/no-such-job/retry").status_code == 404
    assert admin_client.post("/admin/jobs/failed/a%20b%3Cc/delete").status_code == 404
    assert _audited() == []


def test_a_job_that_has_not_failed_cannot_be_retried_or_deleted(admin_client, admin, app):
    waiting = queues.queue("default").enqueue("jobs.reminders.hand_out_mail")
    assert admin_client.post(f"/admin/jobs/failed/{waiting.id}/retry").status_code == 404
    assert admin_client.post(f"/admin/jobs/failed/{waiting.id}/delete").status_code == 404
    assert queues.queue("default").job_ids == [waiting.id]


def test_retry_all_and_delete_all_take_every_queue(admin_client, admin, app, run_jobs):
    first, second = _fail_a_job(run_jobs), _fail_a_job(run_jobs, "reminders")

    response = admin_client.post("/admin/jobs/failed/retry-all", headers=HTMX)
    assert "2 failed jobs back on their queues." in page_text(response)
    assert _failed() == [] and _failed("reminders") == []
    assert queues.queue("default").job_ids == [first] and queues.queue("reminders").job_ids == [second]

    run_jobs()
    response = admin_client.post("/admin/jobs/failed/delete-all")
    assert response.status_code == 303
    assert _failed() == [] and _failed("reminders") == []
    assert [action for action, _, _ in _audited()] == ["retry_all_jobs", "delete_all_jobs"]
    assert [target for _, target, _ in _audited()] == ["2 failed jobs", "2 failed jobs"]


def test_with_redis_down_the_page_says_so_and_actions_change_nothing(own_redis, app, admin_client, admin):
    own_redis["server"].stop()
    page = admin_client.get("/admin/jobs/failed")
    assert page.status_code == 200
    assert "Redis does not answer: the failed jobs cannot be read now." in page_text(page)
    response = admin_client.post("/admin/jobs/failed/retry-all")
    assert response.status_code == 503
    assert "Redis does not answer, so nothing was changed." in page_text(response)
    assert _audited() == []
