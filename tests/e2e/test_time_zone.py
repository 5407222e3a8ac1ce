"""The time zone on the profile in a real browser: found by typing part of a city, a change
says what moves before it is saved, and the due times shown follow the answer."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, account_menu, look, sign_up

pytestmark = pytest.mark.e2e


def _quick_add(page, line: str) -> None:
    page.get_by_label("New task").fill(line)
    page.get_by_role("button", name="Add task").click()
    expect(page.get_by_label("New task")).to_have_value("")


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_changing_the_zone_says_what_moves_first(new_page, javascript):
    page = new_page(viewport=DESKTOP, timezone_id="Europe/London", java_script_enabled=javascript)
    email = f"zone-{'js' if javascript else 'nojs'}@example.com"
    sign_up(page, email, "Zoe")
    # Sign-up takes the browser's zone with JavaScript; without, the zone field's default, UTC.
    # 17:00 in either is 12:00 in New York in December.
    start = "Europe/London" if javascript else "UTC"
    page.goto("/tasks")
    _quick_add(page, "Call the bank tomorrow 5pm")
    _quick_add(page, "Pay rent tomorrow")
    expect(page.locator("#task-rows")).to_contain_text("17:00")

    account_menu(page).get_by_role("link", name="Profile").click()
    zone = page.get_by_label("Time zone")
    expect(zone).to_have_attribute("list", "timezones")
    if javascript:
        look(page, "profile-zone-picker")
    zone.fill("Europe/Paris and more")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("is not a time zone we know")).to_be_visible()

    zone = page.get_by_label("Time zone")
    zone.fill("america/new york")  # any case, spaces for underscores
    page.get_by_role("button", name="Save profile").click()
    question = f"Change your time zone from {start} to America/New York?"
    expect(page.get_by_role("heading", name=question)).to_be_visible()
    expect(page.locator("#profile-form")).to_contain_text("1 task with a due time keeps its moment")
    expect(page.locator("#profile-form")).to_contain_text(f"17:00 in {start} is")
    expect(page.locator("#profile-form")).to_contain_text("12:00 in America/New York")
    expect(page.locator("#profile-form")).to_contain_text("1 all-day task keeps its date.")
    if javascript:  # axe runs as a script: not in a page with JavaScript off
        look(page, "profile-zone-change")
    page.get_by_role("button", name="Change time zone").click()
    expect(page.locator("#flash")).to_contain_text("Your time zone is now America/New_York.")
    expect(page.locator("#flash")).to_contain_text("all-day tasks keep their date")

    page.goto("/tasks")
    rows = page.locator("#task-rows")
    expect(rows.locator(".task-row", has_text="Call the bank")).to_contain_text("12:00")
    # All day: still due on the first zone's tomorrow, which is New York's tomorrow too, or the day after
    # while New York is still a day behind.
    day = datetime.now(ZoneInfo(start)).date() + timedelta(days=1)
    new_york_tomorrow = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=1)
    shown = "Tomorrow" if day == new_york_tomorrow else f"{day.day} {day:%b}"
    expect(rows.locator(".task-row", has_text="Pay rent")).to_contain_text(shown)


def test_the_zone_picker_on_a_phone(new_page):
    page = new_page(viewport=PHONE)
    sign_up(page, "zone-phone@example.com", "Pia")
    page.goto("/profile")
    page.get_by_label("Time zone").fill("Tokyo")
    look(page, "profile-zone-picker-phone")
