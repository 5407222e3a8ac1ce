"""Every view of Tasklane, at a desktop's 1280 x 800 and a phone's 390 x 844, in the light and the dark
colour scheme: axe-core finds no WCAG 2.1 AA violation, nothing is wider than the window, and a
screenshot of each is kept (tests/e2e/screenshots/every-…) to look at."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    PHONE,
    create_admin,
    log_in,
    look,
    page_opener,
    show_filters,
    wider_than_the_viewport,
)

pytestmark = pytest.mark.e2e

EMAIL = "every-page@example.com"
SEEDING_TIMEOUT = 30_000  # ms: a loaded CI machine took 6 s for one add
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": PHONE}


@dataclass(frozen=True)
class Site:
    """The ids the pages of one seeded account are reached by."""

    task: str  # /tasks/<id>
    project: str  # /projects/<id>
    user: str  # /admin/users/<id>


@dataclass(frozen=True)
class View:
    name: str
    path: Callable[[Site], str]
    signed_in: bool = True
    status: int = 200
    then: Callable[[Page], None] | None = None  # what to open on the page before looking


def _open_the_editor(page: Page) -> None:
    page.locator("#task-rows .task-row").first.get_by_role("link", name=re.compile("^Edit ")).click()
    expect(page.locator(".task-row.is-editing")).to_be_visible()


def _open_the_account_menu(page: Page) -> None:
    page.get_by_role("navigation", name="Account").locator("summary").click()


VIEWS = [
    View("login", lambda s: "/login", signed_in=False),
    View("signup", lambda s: "/signup", signed_in=False),
    View("reset-request", lambda s: "/reset", signed_in=False),
    View("reset-invalid", lambda s: "/reset/not-a-token", signed_in=False, status=400),
    View("confirm-problem", lambda s: "/email/confirm/not-a-token", signed_in=False, status=404),
    View("unsubscribe-invalid", lambda s: "/unsubscribe/not-a-token", signed_in=False, status=404),
    View("not-found-signed-out", lambda s: "/no-such-page", signed_in=False, status=404),
    View("dashboard", lambda s: "/"),
    View("account-menu", lambda s: "/", then=_open_the_account_menu),
    View("tasks", lambda s: "/tasks"),
    View("tasks-filtered", lambda s: "/tasks?status=todo&sort=priority", then=show_filters),
    View("tasks-empty-search", lambda s: "/tasks?q=nothing-matches-this"),
    View("tasks-editing", lambda s: "/tasks", then=_open_the_editor),
    View("today", lambda s: "/today"),
    View("upcoming", lambda s: "/upcoming"),
    View("inbox", lambda s: "/inbox"),
    View("trash", lambda s: "/trash"),
    View("trash-empty", lambda s: "/trash/empty"),
    View("task", lambda s: s.task),
    View("task-edit", lambda s: s.task + "/edit"),
    View("projects", lambda s: "/projects"),
    View("project", lambda s: s.project),
    View("project-delete", lambda s: s.project + "/delete"),
    View("profile", lambda s: "/profile"),
    View("notifications", lambda s: "/notifications"),
    View("outbox", lambda s: "/outbox"),
    View("admin-overview", lambda s: "/admin/"),
    View("admin-users", lambda s: "/admin/users"),
    View("admin-user", lambda s: s.user),
    View("admin-audit", lambda s: "/admin/audit"),
    View("admin-failed-jobs", lambda s: "/admin/jobs/failed"),
    View("admin-failed-mail", lambda s: "/admin/mail/failed"),
    View("not-found", lambda s: "/tasks/2147483647", status=404),
    View("bad-request", lambda s: "/tasks?sort=sideways", status=400),
]


@pytest.fixture(scope="module")
def site(browser, live_server) -> Site:
    """An admin with tasks (dated, tagged, urgent, done), a project and a reminder."""
    create_admin(live_server, EMAIL)
    with page_opener(browser, live_server.url) as open_page:
        page = open_page()
        log_in(page, EMAIL)
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/projects")
        page.get_by_label("Project name").fill("Home")
        page.get_by_role("button", name="Create project").click()
        project = page.get_by_role("link", name="Home", exact=True)
        expect(project).to_be_visible()
        project_path = project.get_attribute("href")
        page.goto("/tasks")
        for line in (
            "Water the plants today",
            "Pay rent tomorrow 9am #home @bills p1",
            "Call the plumber about the dripping kitchen tap in 3 days",
            "Renew the car insurance next friday p2 @car",
            "Buy oat milk",
            "Sort out the old shopping lists",
        ):
            page.get_by_label("New task").fill(line)
            page.get_by_role("button", name="Add task").click()
            expect(page.get_by_label("New task")).to_have_value("", timeout=SEEDING_TIMEOUT)
        done = page.get_by_role("button", name="Done: Buy oat milk")
        done.click()
        expect(done).to_have_attribute("aria-pressed", "true")
        page.get_by_role("button", name="Delete Sort out the old shopping lists").click()
        expect(page.get_by_role("button", name="Undo")).to_be_visible()  # in the trash now
        page.get_by_role("link", name="Pay rent", exact=True).click()
        page.wait_for_url(re.compile(r"/tasks/\d+"))
        task_path = re.sub(r"\?.*", "", page.url.removeprefix(live_server.url))
        page.get_by_role("button", name="Tomorrow", exact=False).first.click()
        expect(page.locator(".reminder-list li")).to_have_count(1)
        page.goto("/admin/users")
        user_path = page.get_by_role("link", name=EMAIL, exact=True).get_attribute("href")
    return Site(task=task_path, project=project_path, user=user_path)


@pytest.fixture(scope="module")
def browsers(browser, live_server, site):
    """One page per viewport, signed out and signed in, kept for the module."""
    with page_opener(browser, live_server.url) as open_page:
        pages = {}
        for name, viewport in VIEWPORTS.items():
            pages[name, False] = open_page(viewport=viewport)
            signed_in = open_page(viewport=viewport)
            log_in(signed_in, EMAIL)
            signed_in.wait_for_url(re.compile(r"/$"))
            pages[name, True] = signed_in
        yield pages


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("view", VIEWS, ids=[view.name for view in VIEWS])
def test_every_view_passes_axe_and_fits_the_window_in_both_schemes(browsers, site, viewport, view):
    page = browsers[viewport, view.signed_in]
    response = page.goto(view.path(site))
    assert response.status == view.status, f"{view.name}: {response.status}"
    if view.then:
        view.then(page)
    assert not wider_than_the_viewport(page), wider_than_the_viewport(page)
    look(page, f"every-{viewport}-{view.name}")
