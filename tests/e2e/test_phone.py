"""Tasklane on a phone: a one-line header, the main views one tap away in a tab bar, the filters
folded, rows compact with 44 px targets, and nothing wider than the screen from 360 px to a
1024 px tablet."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    PHONE,
    account_menu,
    create_admin,
    log_in,
    look,
    page_opener,
    show_filters,
    wider_than_the_viewport,
)

pytestmark = pytest.mark.e2e

EMAIL = "phone@example.com"
TASKS = (
    "Pay rent tomorrow 9am @bills p1",
    "Call the plumber about the kitchen tap in 3 days",
    "Buy oat milk",
    "Book the passport appointment next friday @admin",
    "Water the plants today",
    "Gym tomorrow 7am",
    "Renew the car insurance in 2 weeks p2",
    "Send the quarterly report to finance",
)
TABS = {
    "Dashboard": r"/$",
    "Today": r"/today$",
    "Upcoming": r"/upcoming$",
    "Tasks": r"/tasks$",
    "Projects": r"/projects$",
}
WIDTHS = (360, 390, 430, 768, 1024)
TOUCH = 44  # px, the smallest target a finger hits reliably


@pytest.fixture(scope="module")
def phone_user(browser, live_server) -> str:
    """An account with a week's worth of tasks, added once for the module."""
    create_admin(live_server, EMAIL)
    with page_opener(browser, live_server.url) as open_page:
        page = open_page()
        log_in(page, EMAIL)
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/tasks")
        for line in TASKS:
            page.get_by_label("New task").fill(line)
            page.get_by_role("button", name="Add task").click()
            expect(page.get_by_label("New task")).to_have_value("")
        expect(page.locator("#task-rows .task-row")).to_have_count(len(TASKS))
    return EMAIL


@pytest.fixture
def phone(new_page, phone_user):
    page = new_page(viewport=PHONE, has_touch=True, is_mobile=True)
    log_in(page, phone_user)
    page.wait_for_url(re.compile(r"/$"))
    return page


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box, f"{locator} is not shown"
    return box


def test_the_first_task_is_near_the_top_and_rows_are_compact(phone):
    phone.goto("/tasks")
    look(phone, "phone-tasks")
    header = _box(phone.locator(".site-header"))
    assert header["height"] <= 56, f"the header wraps: {header['height']} px"
    rows = phone.locator("#task-rows .task-row")
    expect(rows).to_have_count(len(TASKS))
    first = _box(rows.first)
    assert first["y"] < 300, f"the first task starts {first['y']} px down"
    one_line = {}  # a title on one line, its details on one line under it
    for i in range(rows.count()):
        title, details = rows.nth(i).locator("> a"), rows.nth(i).locator(".task-meta")
        if _box(title)["height"] < 30 and _box(details)["height"] < 25:
            one_line[title.inner_text()] = _box(rows.nth(i))["height"]
    assert len(one_line) >= 3, one_line
    assert max(one_line.values()) <= 72, f"rows are this tall: {one_line}"


def test_every_control_of_a_row_is_a_44_px_target(phone):
    phone.goto("/tasks")
    row = phone.locator("#task-rows .task-row").first
    for control in (
        row.get_by_role("button", name=re.compile("^Done: ")),
        row.get_by_role("link", name=re.compile("^Edit ")),
        row.get_by_role("button", name=re.compile("^Delete ")),
    ):
        box = _box(control)
        assert box["width"] >= TOUCH and box["height"] >= TOUCH, f"{control}: {box}"
    account = phone.get_by_role("navigation", name="Account")
    for target in (
        phone.get_by_role("navigation", name="Main").get_by_role("link", name="Today"),
        account.get_by_role("link", name=re.compile("^Notifications")),
        account.locator("summary"),
        phone.locator(".filters-more > summary"),
    ):
        box = _box(target)
        assert box["height"] >= TOUCH, f"{target}: {box}"


def test_the_tab_bar_reaches_each_main_view_in_one_tap(phone):
    tabs = phone.get_by_role("navigation", name="Main")
    bar = _box(tabs)
    assert bar["y"] + bar["height"] == PHONE["height"], "the tab bar is not at the foot of the screen"
    for name, path in TABS.items():
        tab = tabs.get_by_role("link", name=name)
        tab.tap()
        phone.wait_for_url(re.compile(path))
        expect(tabs.get_by_role("link", name=name)).to_have_attribute("aria-current", "page")
        expect(tabs.locator("[aria-current]")).to_have_count(1)
        # the last row of a long page scrolls clear of the tab bar
        phone.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        end = phone.evaluate("document.querySelector('main').lastElementChild.getBoundingClientRect().bottom")
        assert end <= bar["y"], f"{name}: the end of the page hides under the tab bar"


def test_the_account_menu_holds_profile_admin_and_log_out(phone):
    menu = account_menu(phone)
    expect(menu.get_by_role("link", name="Profile")).to_be_visible()
    expect(menu.get_by_role("link", name="Admin")).to_be_visible()
    expect(menu.get_by_role("button", name="Log out")).to_be_visible()
    look(phone, "phone-account-menu")
    phone.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(menu.locator("summary")).to_be_focused()

    account_menu(phone).get_by_role("link", name="Profile").tap()
    phone.wait_for_url(re.compile(r"/profile$"))
    expect(phone.get_by_role("heading", level=1)).to_be_visible()


def test_the_filters_fold_behind_a_button_on_a_phone_and_show_on_a_desktop(phone):
    phone.goto("/tasks")
    expect(phone.get_by_label("Search")).to_be_visible()
    expect(phone.get_by_label("Status")).to_be_hidden()
    filters = phone.get_by_text("Filters", exact=True)
    filters.tap()
    expect(phone.get_by_label("Status")).to_be_visible()
    look(phone, "phone-tasks-filters")
    phone.get_by_label("Show completed").check()
    expect(phone).to_have_url(re.compile(r"completed=1"))
    filters.tap()
    expect(phone.get_by_label("Status")).to_be_hidden()

    phone.reload()  # a list with a filter chosen shows them unfolded
    expect(phone.get_by_label("Show completed")).to_be_checked()

    phone.set_viewport_size({"width": 1024, "height": 768})
    phone.goto("/tasks")
    expect(filters).to_be_hidden()
    expect(phone.get_by_label("Status")).to_be_visible()
    show_filters(phone)  # a no-op there


@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_is_wider_than_the_screen(new_page, phone_user, width):
    page = new_page(viewport={"width": width, "height": 844})
    log_in(page, phone_user)
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/tasks")
    task_url = page.locator("#task-rows .task-row > a").first.get_attribute("href")
    for path in ("/", "/today", "/upcoming", "/tasks", "/projects", "/profile", "/notifications", task_url):
        page.goto(path)
        if path == "/tasks":
            show_filters(page)
        assert not wider_than_the_viewport(page), (path, wider_than_the_viewport(page))
