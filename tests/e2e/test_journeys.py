"""What a new user does in a real browser, on the real stack, checked with axe-core as we go."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import account_menu, add_task, log_in, log_out, look, open_mail, sign_up

pytestmark = pytest.mark.e2e


def test_new_user_signs_up_adds_completes_edits_and_finds_tasks(new_page):
    page = new_page(timezone_id="America/New_York")
    page.goto("/signup")
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    look(page, "signup")

    sign_up(page, "grace@example.com", "Grace")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    look(page, "dashboard-empty")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()
    expect(page.get_by_text("No tasks yet")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    for title in ("Buy oat milk", "Write the quarterly report", "Call the plumber"):
        add_task(page, title)
    expect(page.get_by_text("No tasks yet")).to_be_hidden()
    assert page.evaluate("window.stillTheSamePage"), "adding tasks reloaded the page instead of swapping rows"

    done = page.get_by_role("button", name="Done: Buy oat milk")
    done.click()
    expect(page.get_by_role("button", name="Done: Buy oat milk")).to_have_attribute("aria-pressed", "true")

    page.get_by_role("link", name="Edit Write the quarterly report").click()
    page.get_by_label("Notes").fill("Numbers from finance first.")
    page.get_by_label("Priority").select_option(label="Urgent")
    page.get_by_label("Due date").fill("2031-03-14")
    page.get_by_label("Tags").fill("work, finance")
    look(page, "task-edit-inline")
    page.get_by_role("button", name="Save Write the quarterly report").click()
    row = page.locator(".task-row", has_text="Write the quarterly report")
    expect(row).to_contain_text("Urgent")
    expect(row.get_by_role("link", name="finance")).to_be_visible()

    page.get_by_label("Search").press_sequentially("quart", delay=60)
    expect(page.locator("#task-rows .task-row")).to_have_count(1)
    expect(page.locator("#task-rows")).to_contain_text("Write the quarterly report")
    expect(page).to_have_url(re.compile(r"q=quart"))
    assert page.evaluate("window.stillTheSamePage"), "search reloaded the page"
    look(page, "tasks-search")

    page.get_by_label("Search").fill("finance")
    expect(page.locator("#task-rows .task-row")).to_have_count(1)
    page.get_by_label("Search").fill("")
    expect(page.locator("#task-rows .task-row")).to_have_count(2)  # done tasks leave the list
    page.get_by_label("Show completed").check()
    expect(page.locator("#task-rows .task-row")).to_have_count(3)
    expect(page).to_have_url(re.compile(r"completed=1"))
    look(page, "tasks")
    page.set_viewport_size({"width": 390, "height": 844})
    look(page, "tasks-phone")
    page.set_viewport_size({"width": 1200, "height": 850})

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    look(page, "projects")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.locator("main")).to_contain_text("Done")
    look(page, "dashboard")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Grace")
    account_menu(page).get_by_role("link", name="Profile").click()
    look(page, "profile")


def test_password_reset_through_the_mail_in_the_outbox(page, live_server):
    sign_up(page, "ada@example.com", "Ada")
    log_out(page)
    page.wait_for_url(re.compile(r"/login$"))
    look(page, "login")

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail").fill("ada@example.com")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.locator("main")).to_contain_text("If an account exists for that address")
    look(page, "reset-requested")

    open_mail(page, "ada@example.com", "Reset your Tasklane password")
    look(page, "outbox-message")
    page.locator("main a[href*='/reset/']").click()
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("Repeat the password").fill("a brand new passphrase")
    look(page, "reset-confirm")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Ada")

    log_out(page)
    page.wait_for_url(re.compile(r"/login$"))
    log_in(page, "ada@example.com", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("do not match")
    log_in(page, "ada@example.com", "a brand new passphrase")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Ada")


def test_every_step_works_with_javascript_off(new_page):
    page = new_page(java_script_enabled=False)
    sign_up(page, "nojs@example.com", "Lin")
    page.goto("/tasks")
    add_task(page, "Water the plants")
    add_task(page, "Renew passport")
    expect(page.locator(".task-row")).to_have_count(2)

    page.get_by_role("button", name="Done: Water the plants").click()
    expect(page.get_by_role("status")).to_contain_text("“Water the plants” is done.")
    expect(page.locator(".task-row")).to_have_count(1)
    page.get_by_label("Show completed").check()
    page.get_by_role("button", name="Apply").click()
    done = page.get_by_role("button", name="Done: Water the plants")
    expect(done).to_have_attribute("aria-pressed", "true")

    page.get_by_label("Search").fill("passp")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".task-row")).to_have_count(1)
    expect(page.locator(".task-row")).to_contain_text("Renew passport")

    page.get_by_role("button", name="Delete Renew passport").click()
    expect(page.locator(".task-row", has_text="Renew passport")).to_have_count(0)
    page.get_by_role("button", name=re.compile("Undo")).click()
    page.goto("/tasks")
    expect(page.locator(".task-row", has_text="Renew passport")).to_have_count(1)
