"""The Inbox, search by part of a word or by tag, and the trash, in a real browser: with htmx,
and the same steps with JavaScript off."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, account_menu, look, sign_up

pytestmark = pytest.mark.e2e


def _quick_add(page, line: str) -> None:
    page.get_by_label("New task").fill(line)
    page.get_by_role("button", name="Add task").click()
    expect(page.get_by_label("New task")).to_have_value("")


def _rows(page):
    return page.locator("#task-rows .task-row")


def test_the_inbox_search_and_the_trash(new_page):
    page = new_page(viewport=DESKTOP)
    sign_up(page, "trash@example.com", "Tess")
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Inbox")
    for line in ("Renew passport", "Write the report", "Buy milk @errands", "Buy bread"):
        _quick_add(page, line)
    expect(_rows(page)).to_have_count(4)
    look(page, "inbox")

    search = page.get_by_label("Search")
    search.fill("port")  # part of a word: passport and report
    expect(_rows(page)).to_have_count(2)
    expect(page.locator("#task-rows")).to_contain_text("Renew passport")
    search.fill("@errands")  # a tag, not a title
    expect(_rows(page)).to_have_count(1)
    expect(page.locator("#task-rows")).to_contain_text("Buy milk")
    search.fill("")
    expect(_rows(page)).to_have_count(4)

    page.get_by_role("button", name="Delete Renew passport").click()
    page.get_by_role("button", name="Delete Buy bread").click()
    account_menu(page).get_by_role("link", name="Trash").click()
    trash = page.get_by_role("list", name="Deleted tasks")
    expect(trash.locator("li")).to_have_count(2)
    expect(trash).to_contain_text("30 days left")
    look(page, "trash")

    trash.locator("li", has_text="Renew passport").get_by_role("button", name="Restore").click()
    expect(page.locator("#trash")).to_contain_text("Restored “Renew passport” to Inbox.")
    expect(page.locator("#trash")).to_contain_text("1 deleted task.")
    page.get_by_role("link", name="Empty trash…").click()
    expect(page.get_by_text("Delete all 1 task in the trash forever?")).to_be_visible()
    look(page, "trash-empty-confirm")
    page.get_by_role("button", name="Empty trash", exact=True).click()
    expect(page.locator("#trash")).to_contain_text("Deleted 1 task forever. The trash is empty.")

    nav.get_by_role("link", name="Inbox").click()
    expect(_rows(page)).to_have_count(3)
    expect(page.locator("#task-rows")).to_contain_text("Renew passport")
    page.set_viewport_size(PHONE)
    look(page, "inbox-phone")
    account_menu(page).get_by_role("link", name="Trash").click()
    look(page, "trash-phone")


def test_the_trash_works_with_javascript_off(new_page):
    page = new_page(java_script_enabled=False)
    sign_up(page, "trash-nojs@example.com", "Noa")
    page.goto("/inbox")
    for line in ("Renew passport", "Buy milk"):
        _quick_add(page, line)
    page.get_by_label("Search").fill("sspo")
    page.get_by_role("button", name="Apply").click()
    expect(_rows(page)).to_have_count(1)
    page.get_by_role("button", name="Delete Renew passport").click()
    page.goto("/inbox")
    page.get_by_role("button", name="Delete Buy milk").click()

    page.goto("/trash")
    trash = page.get_by_role("list", name="Deleted tasks")
    expect(trash.locator("li")).to_have_count(2)
    trash.locator("li", has_text="Buy milk").get_by_role("button", name="Delete forever").click()
    expect(page.locator("#flash")).to_contain_text("Deleted “Buy milk” forever.")
    trash.locator("li", has_text="Renew passport").get_by_role("button", name="Restore").click()
    expect(page.locator("#flash")).to_contain_text("Restored “Renew passport” to Inbox.")
    expect(page.locator("#trash")).to_contain_text("The trash is empty.")

    page.goto("/inbox")
    expect(_rows(page)).to_have_count(1)
    page.get_by_role("button", name="Delete Renew passport").click()
    page.goto("/trash")
    page.get_by_role("link", name="Empty trash…").click()  # a page of its own that asks first
    expect(page.get_by_role("heading", level=1)).to_have_text("Empty the trash?")
    page.get_by_role("button", name="Empty trash", exact=True).click()
    expect(page.locator("#flash")).to_contain_text("Deleted 1 task forever. The trash is empty.")
