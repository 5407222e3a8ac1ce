"""Confirming the address in a real browser on the real stack: the sign-up answer, the banner and
its "Send again", the mailed link (written to the outbox by the worker), the confirmed page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import CONFIRM_SUBJECT, log_in, look, open_mail, start_sign_up

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def look_on_desktop_and_phone(page, name: str) -> None:
    """Check and keep the page at desktop and at phone width; nothing may stick out sideways."""
    for size, suffix in ((DESKTOP, "desktop"), (PHONE, "phone")):
        page.set_viewport_size(size)
        look(page, f"{name}-{suffix}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
            f"{name} is too wide"
        )
    page.set_viewport_size(DESKTOP)


def test_a_new_user_is_asked_to_confirm_until_they_follow_the_mailed_link(new_page):
    page = new_page()
    page.set_viewport_size(DESKTOP)
    start_sign_up(page, "hedy.lamarr.long.address@example.com", "Hedy")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox to confirm your address")
    look_on_desktop_and_phone(page, "check-inbox")

    log_in(page, "hedy.lamarr.long.address@example.com", PASSWORD)
    page.wait_for_url(re.compile(r"/$"))
    banner = page.locator("#confirm-banner")
    expect(banner).to_contain_text(
        "Confirm your address: we sent a link to hedy.lamarr.long.address@example.com."
    )
    look_on_desktop_and_phone(page, "confirm-banner")
    banner.get_by_role("button", name="Send again").click()
    expect(banner).to_contain_text("We sent a new link to hedy.lamarr.long.address@example.com.")
    look(page, "confirm-banner-sent")

    mail = page.context.new_page()
    open_mail(mail, "hedy.lamarr.long.address@example.com", CONFIRM_SUBJECT)
    look(mail, "confirm-mail")
    mail.locator("main a[href*='/email/confirm/']").click()
    expect(mail.get_by_role("button", name="Confirm my address")).to_be_visible()
    look_on_desktop_and_phone(mail, "confirm-address")
    mail.get_by_role("button", name="Confirm my address").click()
    expect(mail.get_by_role("heading", level=1)).to_have_text("Your address is confirmed")
    look_on_desktop_and_phone(mail, "address-confirmed")

    page.reload()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Hedy")
    expect(page.locator("#confirm-banner")).to_have_count(0)
