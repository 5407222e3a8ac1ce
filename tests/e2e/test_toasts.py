"""After a change made with htmx, a toast says what happened (the server names it in HX-Trigger)
and leaves after a few seconds; the busy bar ends with every request; errors still say so."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import PHONE, add_task, create_admin, log_in, look

pytestmark = pytest.mark.e2e


@pytest.fixture
def signed_in(new_page, live_server):
    def open_as(email: str, **settings):
        create_admin(live_server, email)
        page = new_page(**settings)
        log_in(page, email)
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/tasks")
        return page

    return open_as


def _says(page, message: str) -> None:
    expect(page.locator("#toasts")).to_contain_text(message)
    expect(page.locator("html")).not_to_have_class(re.compile("is-busy"))


def test_adding_completing_editing_deleting_and_undoing_each_say_so(signed_in):
    page = signed_in("toasts@example.com")
    add_task(page, "Pay rent")
    _says(page, "Added “Pay rent”.")

    page.get_by_role("button", name="Done: Pay rent").click()
    _says(page, "“Pay rent” is done.")
    look(page, "toast")

    page.get_by_role("link", name="Edit Pay rent").click()
    page.get_by_label("Title").fill("Pay the rent")
    page.get_by_role("button", name=re.compile("^Save")).click()
    _says(page, "Saved “Pay the rent”.")

    page.get_by_role("button", name="Delete Pay the rent").click()
    _says(page, "Deleted “Pay the rent”.")
    page.get_by_role("button", name=re.compile("^Undo")).click()
    _says(page, "Restored “Pay the rent”.")
    expect(page.get_by_role("button", name="Done: Pay the rent")).to_be_enabled()

    # the toasts leave by themselves, and only the newest three are kept meanwhile
    expect(page.locator("#toasts .toast")).to_have_count(3)
    expect(page.locator("#toasts .toast")).to_have_count(0, timeout=10_000)
    # a toast is not the page's status line, which keeps one meaning (the server's messages)
    expect(page.get_by_role("status")).to_have_count(1)


def test_a_toast_on_a_phone_sits_above_the_tab_bar(signed_in):
    page = signed_in("toasts-phone@example.com", viewport=PHONE)
    add_task(page, "Buy oat milk")
    toast = page.locator("#toasts .toast")
    expect(toast).to_have_text("Added “Buy oat milk”.")
    tab_bar = page.get_by_role("navigation", name="Main").bounding_box()
    box = toast.bounding_box()
    assert box["y"] + box["height"] <= tab_bar["y"], (box, tab_bar)
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    look(page, "toast-phone")


def test_a_server_error_still_says_nothing_was_saved_and_no_toast_claims_otherwise(signed_in):
    page = signed_in("toasts-error@example.com")
    add_task(page, "Renew the lease")
    expect(page.locator("#toasts .toast")).to_have_count(0, timeout=10_000)
    page.route(re.compile(r"/toggle$"), lambda route: route.fulfill(status=500, body="boom"))

    page.get_by_role("button", name="Done: Renew the lease").click()

    expect(page.get_by_role("alert")).to_contain_text("nothing was saved")
    expect(page.locator("#toasts .toast")).to_have_count(0)
    expect(page.locator("html")).not_to_have_class(re.compile("is-busy"))
    expect(page.get_by_role("button", name="Done: Renew the lease")).to_be_enabled()
