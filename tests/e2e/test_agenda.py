"""Today and Upcoming in a real browser: tasks added in one line land on the right day, and a
task ticked on Today leaves it without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, look, sign_up

pytestmark = pytest.mark.e2e


def test_today_and_upcoming_follow_what_the_user_adds_and_ticks(new_page):
    page = new_page(timezone_id="Asia/Tokyo", viewport=DESKTOP)
    sign_up(page, "agenda@example.com", "Aiko")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Tasks").click()
    for line in ("Water the plants today", "Pay rent tomorrow 9am p1", "Call the bank in 3 days @money"):
        page.get_by_label("New task").fill(line)
        page.get_by_role("button", name="Add task").click()
        expect(page.get_by_label("New task")).to_have_value("")

    nav.get_by_role("link", name="Today").click()
    today = page.get_by_role("region", name="Due today")
    expect(today.locator(".task-row")).to_have_count(1)
    expect(today).to_contain_text("Water the plants")
    look(page, "today")

    nav.get_by_role("link", name="Upcoming").click()
    expect(page.get_by_role("region", name="Tomorrow")).to_contain_text("Pay rent")
    expect(page.locator(".agenda-day").nth(3)).to_contain_text("Call the bank")
    look(page, "upcoming")
    page.set_viewport_size(PHONE)
    look(page, "upcoming-phone")

    nav.get_by_role("link", name="Today").click()
    page.get_by_role("button", name="Done: Water the plants").click()
    expect(today).to_contain_text("Nothing due today.")
    look(page, "today-phone")
