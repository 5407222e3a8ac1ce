"""The keyboard and the place in a list, in a real browser: focus follows what htmx swapped in,
single-key shortcuts (static/keys.js) and their help dialog, a skip link to the tasks; without
JavaScript the same steps are forms and links; and Back returns to the same row of a long list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from tests.e2e.conftest import add_task, check_accessibility, in_the_app, look, sign_up

pytestmark = pytest.mark.e2e


def focused(page):
    return page.locator("*:focus")


def settled(page) -> None:
    """Wait until htmx has wired up what it swapped in (its controls answer with htmx from then on)."""
    expect(page.locator(".htmx-added")).to_have_count(0)


# Scrolls to the end again at each poll: a swap that settles after one scroll may leave the end
# out of view, as a person would then scroll once more. With `click`, it also clicks "Load more
# tasks" while the link is there and not already fetching.
SCROLLED_TO_THE_END_LOADS_MORE = """([n, click]) => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  if (document.querySelectorAll('li.task-row').length > n) return true;
  const more = document.querySelector('li.load-more a');
  if (click && more && !more.classList.contains('htmx-request')) more.click();
  return false;
}"""


def scroll_to_the_end_for_more(page, shown: int) -> None:
    """Scroll until the next page has come; if it has not within a few seconds, click "Load more
    tasks" as a person would (htmx's `revealed` can miss an element that a swap and a scroll
    reached in the same moment on a loaded machine; the click is the link's other trigger). The
    click happens in the page, and only while the link is there and not already fetching: a slow
    fetch may bring the last page, which has no link left to click."""
    try:
        page.wait_for_function(SCROLLED_TO_THE_END_LOADS_MORE, arg=[shown, False], timeout=5_000)
    except PlaywrightTimeoutError:
        page.wait_for_function(SCROLLED_TO_THE_END_LOADS_MORE, arg=[shown, True], polling=1_000)


def row(page, title: str):
    return page.locator("li.task-row", has=page.get_by_role("link", name=title, exact=True))


def add_tasks(live_server, email: str, count: int) -> None:
    """`count` tasks for `email`, "Task 001" first in the list, made by the app's own service."""
    script = (
        "    from webapp.tasks.services import create_task\n"
        "    user = db.session.get(User, user_id)\n"
        "    for n in range(1, int(sys.argv[2]) + 1):\n"
        "        create_task(user, f'Task {n:03}')\n"
        "    print('ok')\n"
    )
    assert in_the_app(live_server, script, email, str(count)) == "ok"


def test_a_keyboard_only_journey_with_focus_where_the_work_is(new_page):
    page = new_page()
    sign_up(page, "keys@example.com", "Kim")
    page.goto("/tasks")

    page.keyboard.press("Tab")
    expect(focused(page)).to_have_text("Skip to tasks")
    page.keyboard.press("Enter")
    expect(focused(page)).to_have_id("task-rows")

    page.keyboard.press("q")
    expect(focused(page)).to_have_id("new-title")
    page.keyboard.type("Water the plants")  # a "j" or "k" typed into a field is text, not a shortcut
    page.keyboard.press("Enter")
    expect(row(page, "Water the plants")).to_be_visible()
    expect(focused(page)).to_have_id("new-title")
    page.keyboard.type("Renew passport")
    page.keyboard.press("Enter")
    expect(row(page, "Renew passport")).to_be_visible()
    settled(page)
    page.keyboard.press("Escape")
    expect(focused(page)).to_have_id("task-rows")

    page.keyboard.press("j")
    expect(row(page, "Renew passport")).to_be_focused()
    page.keyboard.press("j")
    expect(row(page, "Water the plants")).to_be_focused()
    page.keyboard.press("k")
    expect(row(page, "Renew passport")).to_be_focused()
    look(page, "keys-focused-row")

    page.keyboard.press("e")
    title_field = page.locator("li.is-editing").get_by_label("Title")
    expect(title_field).to_be_focused()
    look(page, "keys-edit-form")
    page.keyboard.press("Escape")  # closes the editor: the row as it was, focused
    expect(page.locator("li.is-editing")).to_have_count(0)
    expect(row(page, "Renew passport")).to_be_focused()

    page.keyboard.press("e")
    expect(title_field).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("Renew the passport")
    page.keyboard.press("Enter")
    expect(row(page, "Renew the passport")).to_be_focused()

    page.keyboard.press("x")
    done = page.get_by_role("button", name="Done: Renew the passport")
    expect(done).to_have_attribute("aria-pressed", "true")
    expect(row(page, "Renew the passport")).to_be_focused()

    page.keyboard.press("/")
    expect(focused(page)).to_have_id("q")
    page.keyboard.type("plants")
    expect(page).to_have_url(re.compile(r"q=plants"))
    expect(page.locator("li.task-row")).to_have_count(1)
    # Leaving the field is a "change" of the filters form, which asks for the same rows once more.
    with page.expect_response(re.compile(r"/tasks\?q=plants")):
        page.keyboard.press("Escape")
    settled(page)
    expect(page.get_by_label("Search")).to_have_value("plants")
    page.keyboard.press("j")
    expect(row(page, "Water the plants")).to_be_focused()

    page.keyboard.press("#")
    undo = page.get_by_role("button", name="Undo deleting Water the plants")
    expect(undo).to_be_focused()
    page.keyboard.press("Enter")
    expect(row(page, "Water the plants")).to_be_focused()

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete the task (with undo)")
    look(page, "keys-help-dialog")
    page.keyboard.press("j")  # the page behind the dialog is out of reach
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(row(page, "Water the plants")).to_be_focused()

    page.keyboard.press("Control+x")  # with a modifier, a key is the browser's, not a shortcut
    not_done = page.get_by_role("button", name="Done: Water the plants")
    expect(not_done).to_have_attribute("aria-pressed", "false")


def test_focus_in_the_editor_goes_where_the_person_or_the_mistake_is(new_page):
    page = new_page()
    sign_up(page, "quick-click@example.com", "Quinn")
    page.goto("/tasks")
    add_task(page, "Book the dentist")
    settled(page)
    page.evaluate("htmx.config.defaultSettleDelay = 1000")  # a slow moment, stretched to be seen

    page.get_by_role("link", name="Edit Book the dentist").click()
    notes = page.locator("li.is-editing").get_by_label("Notes")
    notes.click()  # before htmx has settled the editor
    settled(page)
    expect(notes).to_be_focused()
    page.keyboard.type("Ask for a morning slot.")
    expect(notes).to_have_value("Ask for a morning slot.")
    editor = page.locator("li.is-editing")
    expect(editor.get_by_label("Title")).to_have_value("Book the dentist")

    # Sent with a mistake from the title: htmx gives the title back its focus, then the editor
    # moves it to the field to correct.
    editor.get_by_label("Time", exact=True).fill("14:00")  # a time without a date
    editor.get_by_label("Title").press("Enter")
    settled(page)
    expect(editor.get_by_label("Time", exact=True)).to_be_focused()
    expect(editor.get_by_label("Time", exact=True)).to_have_attribute("aria-invalid", "true")


def test_shortcuts_reach_quick_add_and_search_from_other_pages(new_page):
    page = new_page()
    sign_up(page, "keys-away@example.com", "Ari")
    page.goto("/upcoming")
    page.keyboard.press("/")
    page.wait_for_url(re.compile(r"/tasks#q$"))
    expect(focused(page)).to_have_id("q")
    page.goto("/projects")
    page.keyboard.press("q")
    page.wait_for_url(re.compile(r"/tasks/quick-add#new-title$"))
    expect(focused(page)).to_have_id("new-title")
    check_accessibility(page)


def test_the_same_steps_without_javascript_are_forms_and_links(new_page):
    page = new_page(java_script_enabled=False)
    sign_up(page, "keys-nojs@example.com", "Noa")
    page.goto("/tasks")
    page.keyboard.press("Tab")
    expect(focused(page)).to_have_text("Skip to tasks")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/tasks#task-rows$"))
    expect(page.get_by_role("dialog")).to_have_count(0)  # the help dialog needs the shortcuts

    add_task(page, "Water the plants")
    add_task(page, "Renew passport")
    page.get_by_role("link", name="Edit Renew passport").click()
    page.get_by_label("Title").fill("Renew the passport")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved “Renew the passport”.")

    page.get_by_label("Search").fill("plants")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("link", name="Water the plants", exact=True).click()
    page.get_by_role("link", name="Back to tasks").click()
    expect(page).to_have_url(re.compile(r"/tasks\?q=plants#t\d+$"))
    expect(page.locator("li.task-row")).to_have_count(1)

    page.get_by_role("button", name="Delete Water the plants").click()
    expect(page.locator("li.task-row", has_text="Water the plants")).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(row(page, "Water the plants")).to_be_visible()


def test_back_from_a_task_far_down_a_long_list_returns_to_that_row(new_page, live_server):
    page = new_page()
    sign_up(page, "long-list@example.com", "Lou")
    add_tasks(live_server, "long-list@example.com", 200)
    page.goto("/tasks")
    rows = page.locator("li.task-row")
    expect(rows).to_have_count(50)

    target = row(page, "Task 180")
    shown = rows.count()  # read before looking for the target: a page may land in between
    while not target.count():  # scrolling down loads the next page each time the end shows
        scroll_to_the_end_for_more(page, shown)
        shown = rows.count()
    expect(page).to_have_url(re.compile(r"/tasks\?shown=200$"))
    target.get_by_role("link", name="Task 180", exact=True).click()
    page.wait_for_url(re.compile(r"/tasks/\d+\?next="))

    page.go_back()
    expect(page).to_have_url(re.compile(r"/tasks\?shown=200$"))
    expect(rows).to_have_count(200)
    expect(target).to_be_in_viewport()

    target.get_by_role("link", name="Task 180", exact=True).click()
    page.get_by_role("link", name="Back to tasks").click()
    expect(page).to_have_url(re.compile(r"/tasks\?shown=200#t\d+$"))
    expect(target).to_be_in_viewport()


def test_without_javascript_load_more_opens_the_longer_list_at_the_last_row_seen(new_page, live_server):
    page = new_page(java_script_enabled=False)
    sign_up(page, "long-nojs@example.com", "Lee")
    add_tasks(live_server, "long-nojs@example.com", 120)
    page.goto("/tasks")
    page.get_by_role("link", name="Load more tasks").click()
    expect(page).to_have_url(re.compile(r"/tasks\?shown=100#t\d+$"))
    expect(page.locator("li.task-row")).to_have_count(100)
    expect(row(page, "Task 050")).to_be_in_viewport()
    expect(row(page, "Task 001")).not_to_be_in_viewport()
