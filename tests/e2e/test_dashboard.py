"""The dashboard stays true after an htmx change: its counts and lists come from the page cache,
and completing a task there updates them without a reload."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import add_task, look, sign_up

pytestmark = pytest.mark.e2e


def _stat(page, label: str):
    return page.locator(".stat", has=page.locator(".stat-label", has_text=re.compile(f"^{label}$")))


def test_completing_an_overdue_task_on_the_dashboard_updates_its_counts(page):
    sign_up(page, "katherine@example.com", "Katherine")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    add_task(page, "Renew the passport")
    page.get_by_role("link", name="Edit Renew the passport").click()
    page.get_by_label("Due date").fill((date.today() - timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Save Renew the passport").click()
    expect(page.locator(".task-row", has_text="Renew the passport")).to_contain_text("Overdue")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    page.reload()  # the second look comes from the cache
    expect(_stat(page, "Overdue")).to_contain_text("1")
    expect(page.locator(".card", has_text="Overdue").first).to_contain_text("Renew the passport")
    page.evaluate("window.stillTheSamePage = true")
    look(page, "dashboard-overdue")

    page.get_by_role("button", name="Done: Renew the passport").click()

    expect(_stat(page, "Overdue")).to_contain_text("0")
    expect(_stat(page, "Done this week")).to_contain_text("1")
    expect(_stat(page, "To do")).to_contain_text("0")
    expect(_stat(page, "Done")).to_contain_text("1")
    expect(page.locator(".card", has_text="Overdue").first).to_contain_text("Nothing overdue.")
    assert page.evaluate("window.stillTheSamePage"), "the dashboard reloaded instead of re-fetching"
    look(page, "dashboard-after-completing")

    page.reload()
    expect(_stat(page, "Overdue")).to_contain_text("0")
    expect(page.locator(".card", has_text="Overdue").first).to_contain_text("Nothing overdue.")


def test_the_bells_poll_is_answered_from_the_browsers_cache_while_nothing_changed(page):
    sign_up(page, "dorothy@example.com", "Dorothy")
    # The bell loads its count once the page is there, and swaps in a badge that polls. htmx
    # listens to the new badge once it settled (it then drops the htmx-added class).
    expect(page.locator('#notification-count[hx-trigger^="every"]:not(.htmx-added)')).to_be_attached()
    with page.expect_request("**/notifications/count") as asked:
        page.evaluate("document.body.dispatchEvent(new Event('notifications-changed'))")  # as a poll does

    assert asked.value.all_headers().get("if-none-match"), "the browser did not ask with the ETag it has"
    assert asked.value.response().ok
    expect(page.locator("#notification-count")).to_contain_text("Notifications")
