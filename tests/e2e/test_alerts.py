"""The red banner as an admin sees it on the real stack (desktop and phone, checked with axe-core
and kept as screenshots): a server whose scheduler counts as silent at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import log_in, look, page_opener, run_flask, running_live_server

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def silent_scheduler_server(tmp_path_factory, redis_url):
    redis_db_9 = redis_url.rsplit("/", 1)[0] + "/9"
    with running_live_server(
        tmp_path_factory.mktemp("alerts-instance"), redis_db_9, SCHEDULER_SILENT_SECONDS="0.001"
    ) as server:
        yield server


def test_an_admin_sees_the_red_banner_on_admin_pages(browser, silent_scheduler_server):
    server = silent_scheduler_server
    created = run_flask(server, "users", "create-admin", "root@example.com", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    with page_opener(browser, server.url) as open_page:
        for name, viewport in VIEWPORTS.items():
            page = open_page(viewport=viewport)
            log_in(page, "root@example.com")
            page.wait_for_url(re.compile(r"/$"))
            expect(page.get_by_role("alert")).to_have_count(0)  # not on the user's own pages
            page.goto("/admin/audit")
            banner = page.get_by_role("alert")
            expect(banner).to_contain_text("Tasklane needs a look")
            expect(banner).to_contain_text("Scheduler: not ticking for")
            look(page, f"admin-alert-banner-{name}")
