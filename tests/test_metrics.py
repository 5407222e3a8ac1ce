"""/metrics in Prometheus's text format, read with prometheus_client's own parser: not public, and
its counters move with requests (cache hits answered before Flask included), jobs a real worker
process runs, queue depths and rate-limit refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs import PLANNING_QUEUE
from webapp import stats
from webapp.extensions import queues

from .conftest import AuthActions
from .test_cache_hits import paths_reaching_flask

TOKEN = "a-scrape-token-for-tests"
SCRAPER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def scrape_token(app_config):
    app_config["METRICS_TOKEN"] = TOKEN


def _scrape(app) -> dict[tuple, float]:
    response = app.test_client().get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return {
        (sample.name, *sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def _requests(endpoint: str, status: str, method: str = "GET") -> tuple:
    return ("tasklane_http_requests_total", ("endpoint", endpoint), ("method", method), ("status", status))


def _grew(before: dict, after: dict, key: tuple) -> float:
    return after.get(key, 0) - before.get(key, 0)


def test_metrics_are_there_only_for_admins_and_the_scraper(
    scrape_token, app, client, user, admin_client, admin
):
    assert app.test_client().get("/metrics").status_code == 404
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 404
    assert client.get("/metrics", headers=SCRAPER).status_code == 200
    assert admin_client.get("/metrics").status_code == 200


def test_without_a_token_set_nobody_reads_them(app, client):
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_requests_are_counted_and_timed_cache_hits_included(scrape_token, app, client, user):
    client.get("/tasks")  # shows the welcome message once
    client.get("/tasks")  # stored in the cache
    before = _scrape(app)
    with paths_reaching_flask(app) as reached:
        for _ in range(3):
            assert client.get("/tasks").status_code == 200
    client.get("/no/such/page")
    after = _scrape(app)

    assert reached == [], "the three reads were cache hits, answered before Flask"

    assert _grew(before, after, _requests("tasks.index", "200")) == 3
    timed = ("tasklane_http_request_duration_seconds_count", ("endpoint", "tasks.index"))
    assert _grew(before, after, timed) == 3
    assert _grew(before, after, _requests("unmatched", "404")) == 1
    hits = ("tasklane_cache_lookups_total", ("outcome", "hit"), ("page", "task_list"))
    assert _grew(before, after, hits) == 3


def test_queue_depths_and_job_outcomes_follow_a_real_worker(scrape_token, app, run_worker_process):
    queues.queue(PLANNING_QUEUE).enqueue("jobs.maintenance.purge_expired_records")
    queued = _scrape(app)
    run_worker_process(PLANNING_QUEUE)
    done = _scrape(app)

    assert queued[("tasklane_queue_depth", ("queue", PLANNING_QUEUE))] == 1
    assert done[("tasklane_queue_depth", ("queue", PLANNING_QUEUE))] == 0
    assert _grew(queued, done, ("tasklane_jobs_total", ("outcome", "succeeded"))) == 1


def test_rate_limit_refusals_are_counted(scrape_token, app_config):
    app_config.update(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_PER_ADDRESS="1 per minute")
    from webapp import create_app

    app = create_app(app_config)
    before = _scrape(app)
    visitor = AuthActions(app.test_client())
    statuses = [visitor.login(password="wrong").status_code for _ in range(3)]
    after = _scrape(app)

    assert statuses == [422, 429, 429]
    assert _grew(before, after, ("tasklane_rate_limited_total",)) == 2
    assert _grew(before, after, _requests("auth.login", "429", "POST")) == 2


def test_users_are_counted_active_once_a_day_whatever_they_read(app, client, user, other_client, other_user):
    today = datetime.now(UTC).date()
    for _ in range(3):
        client.get("/tasks")
    other_client.get("/")

    assert stats.active_users(queues.connection, [today]) == 2
    assert stats.active_users(queues.connection, [today - timedelta(days=1)]) == 0
