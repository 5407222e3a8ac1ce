"""/metrics of `make run`'s gunicorn with two worker processes: a scrape of either one adds up
both (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import METRICS_TOKEN

pytestmark = pytest.mark.e2e

READS = 60


def _login_pages_counted(base_url: str) -> float:
    request = urllib.request.Request(
        base_url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tasklane_http_requests_total"
        and sample.labels == {"endpoint": "auth.login", "method": "GET", "status": "200"}
    )


def test_a_scrape_counts_the_requests_of_every_worker_process(live_server):
    def read_login_page(_) -> int:
        with urllib.request.urlopen(live_server.url + "/login", timeout=30) as response:
            return response.status

    before = _login_pages_counted(live_server.url)
    with ThreadPoolExecutor(8) as pool:  # several at once: both workers answer some
        statuses = list(pool.map(read_login_page, range(READS)))
    after = [_login_pages_counted(live_server.url) for _ in range(4)]  # whichever worker answers

    assert statuses == [200] * READS
    assert after == [before + READS] * 4
