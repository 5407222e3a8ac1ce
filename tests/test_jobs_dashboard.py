"""rq-dashboard at /admin/rq: admins only, on the app's own Redis, its writes refused when another
site sends them, and a Content-Security-Policy that lets exactly its own inline scripts run."""

from __future__ import annotations

import base64
import hashlib
import pickle
import re

from rq.job import Job

from tests.support import page_text
from tests.test_job_payloads import _WritesAFile
from webapp.extensions import queues

CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _a_job() -> Job:
    return queues.queue("default").enqueue("jobs.reminders.run_sweep")


def test_a_visitor_is_asked_to_log_in(client):
    for url in ("/admin/rq/", "/admin/rq/0/data/queues.json", "/admin/rq/static/js/jquery-3.5.1.min.js"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login?next=/admin/rq/")


def test_a_user_who_is_not_an_admin_gets_the_forbidden_page_and_changes_nothing(client, user):
    job = _a_job()
    response = client.get("/admin/rq/")
    assert response.status_code == 403
    assert "You are not allowed to do that." in page_text(response)
    assert client.post(f"/admin/rq/job/{job.id}/delete", headers=SAME_ORIGIN).status_code == 403
    assert Job.exists(job.id, connection=queues.connection)


def test_an_admin_sees_the_apps_queues(admin_client, admin):
    _a_job()
    page = admin_client.get("/admin/rq/")
    assert page.status_code == 200
    assert "<title>RQ dashboard</title>" in page_text(page)

    listed = admin_client.get("/admin/rq/0/data/queues.json").get_json()
    assert {"name": "default", "count": 1} in [
        {"name": q["name"], "count": q["count"]} for q in listed["queues"]
    ]


def test_its_pages_run_only_their_own_inline_scripts(admin_client, admin):
    response = admin_client.get("/admin/rq/")
    policy = response.headers["Content-Security-Policy"]
    script_src = re.search(r"script-src ([^;]+)", policy).group(1).split()

    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", page_text(response), re.DOTALL)
    expected = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline}
    assert expected and expected <= set(script_src)
    assert "'unsafe-inline'" not in script_src  # so injected markup cannot run handlers
    assert "frame-ancestors 'none'" in policy
    # The app's own pages keep the strict policy.
    assert "unsafe-eval" not in admin_client.get("/admin/users").headers["Content-Security-Policy"]


def test_its_writes_are_refused_when_another_site_sends_them(admin_client, admin):
    job = _a_job()

    assert admin_client.post(f"/admin/rq/job/{job.id}/delete", headers=CROSS_SITE).status_code == 403
    assert admin_client.get("/admin/rq/requeue/default", headers=CROSS_SITE).status_code == 403
    assert Job.exists(job.id, connection=queues.connection)

    deleted = admin_client.post(f"/admin/rq/job/{job.id}/delete", headers=SAME_ORIGIN)
    assert deleted.get_json() == {"status": "OK"}
    assert not Job.exists(job.id, connection=queues.connection)


def test_requeueing_a_job_that_is_gone_is_a_404_not_a_500(admin_client, admin):
    response = admin_client.post("/admin/rq/job/no-such-job/requeue", headers=SAME_ORIGIN)
    assert response.status_code == 404
    assert response.get_json()["status"] == "ERROR"


def test_a_finished_jobs_page_reads_its_json_result(admin_client, admin, run_jobs):
    job = _a_job()
    run_jobs()
    response = admin_client.get(f"/admin/rq/0/data/job/{job.id}.json")
    assert response.status_code == 200
    assert response.get_json()["description"] == job.description
    listed = admin_client.get("/admin/rq/0/data/jobs/default/finished/8/asc/1.json")
    assert [row["id"] for row in listed.get_json()["jobs"]] == [job.id]


def test_a_pickle_planted_in_a_jobs_meta_never_runs_when_an_admin_opens_requeues_or_deletes_it(
    admin_client, admin, redis_client, tmp_path
):
    marker = tmp_path / "unpickled"
    job = _a_job()
    redis_client.hset(f"rq:job:{job.id}", "meta", pickle.dumps(_WritesAFile(str(marker))))

    answers = [
        admin_client.get(f"/admin/rq/0/view/job/{job.id}").status_code,
        admin_client.post(f"/admin/rq/job/{job.id}/requeue", headers=SAME_ORIGIN).status_code,
        admin_client.post(f"/admin/rq/job/{job.id}/delete", headers=SAME_ORIGIN).status_code,
    ]

    assert not marker.exists(), "rq-dashboard unpickled the planted meta"
    assert all(status < 500 for status in answers), answers
