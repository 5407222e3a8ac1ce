"""Quick add in a real browser: the preview says what the line will save before it is saved, a
part can go back to being title text, and the row shows what was understood."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DESKTOP, PHONE, look, sign_up

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_quick_add_shows_what_it_understood_before_saving(new_page, viewport):
    page = new_page(timezone_id="Europe/Berlin", viewport=viewport)
    sign_up(page, f"quick-{viewport['width']}@example.com", "Quinn")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks").click()

    line = page.get_by_label("New task")
    line.press_sequentially("Watch the match tomorrow 9pm @sport p2", delay=20)
    preview = page.locator("#new-title-preview")
    expect(preview).to_contain_text("Adds “Watch the match”")
    expect(preview).to_contain_text("Due Tomorrow 21:00")
    expect(preview).to_contain_text("Tag sport")
    expect(preview).to_contain_text("Priority High")
    look(page, f"quick-add-preview-{viewport['width']}")

    page.get_by_role("button", name="Keep “p2” as title text").click()
    expect(line).to_have_value(r"Watch the match tomorrow 9pm @sport \p2")
    expect(line).to_be_focused()
    expect(preview).to_contain_text("Adds “Watch the match p2”")
    expect(preview).not_to_contain_text("Priority")

    line.press("Enter")
    row = page.locator("#task-rows .task-row", has_text="Watch the match p2")
    expect(row).to_contain_text("Tomorrow 21:00")
    expect(row.get_by_role("link", name="sport")).to_be_visible()
    expect(line).to_have_value("")
    expect(preview).to_be_empty()
    look(page, f"quick-add-saved-{viewport['width']}")
