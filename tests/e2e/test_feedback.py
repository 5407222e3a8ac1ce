"""What the page says while and after a request: busy while it is on its way, a message when the
network or the server fails, a login that brings the user back when the session ended; and
typing a search leaves one history entry, not one per keystroke."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import add_task, log_out, sign_up

pytestmark = pytest.mark.e2e


def test_a_click_after_logging_out_in_another_tab_leads_back_after_login(new_page):
    page = new_page()
    sign_up(page, "two-tabs@example.com", "Tove")
    page.goto("/tasks")
    page.get_by_label("New task").fill("Call the dentist today")
    page.get_by_role("button", name="Add task").click()
    expect(page.get_by_role("link", name="Call the dentist", exact=True)).to_be_visible()
    page.goto("/upcoming")
    other_tab = page.context.new_page()
    other_tab.goto("/")
    log_out(other_tab)

    page.get_by_role("button", name="Done: Call the dentist").click()

    page.wait_for_url(re.compile(r"/login\?next=/upcoming$"))
    expect(page.get_by_role("status")).to_contain_text("Your session has ended")
    page.get_by_label("E-mail").fill("two-tabs@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/upcoming$"))
    expect(page.get_by_role("button", name="Done: Call the dentist")).to_have_attribute(
        "aria-pressed", "false"
    )


def test_a_click_while_offline_says_nothing_was_saved(new_page):
    page = new_page()
    sign_up(page, "offline@example.com", "Otto")
    page.goto("/tasks")
    add_task(page, "Renew the lease")

    page.context.set_offline(True)
    page.get_by_role("button", name="Done: Renew the lease").click()
    expect(page.get_by_role("alert")).to_contain_text("could not be reached, so nothing was saved")
    done = page.get_by_role("button", name="Done: Renew the lease")
    expect(done).to_be_enabled()
    expect(done).to_have_attribute("aria-pressed", "false")

    page.context.set_offline(False)
    done.click()
    expect(page.get_by_role("button", name="Done: Renew the lease")).to_have_attribute("aria-pressed", "true")


def test_typing_a_search_leaves_one_history_entry(new_page):
    page = new_page()
    sign_up(page, "history@example.com", "Hana")
    page.goto("/tasks")
    add_task(page, "Book the passport appointment")
    entries = page.evaluate("history.length")

    page.get_by_label("Search").press_sequentially("passport", delay=120)
    expect(page).to_have_url(re.compile(r"q=passport"))

    assert page.evaluate("history.length") == entries
