"""An admin made with `flask users create-admin` manages users in a real browser on the real
stack: the users list and audit log with data in them (desktop and phone, checked with axe-core
and kept as screenshots), a deactivated user's open browser sent to log in, rq-dashboard working
under its Content-Security-Policy."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, account_menu, log_in, look, run_flask, screenshot, sign_up

pytestmark = pytest.mark.e2e

PEOPLE = [
    ("amelia.watson@northwind.example", "Amelia Watson"),
    ("bo.chen@northwind.example", "Bo Chen"),
    ("carmen.ruiz@contoso.example", "Carmen Ruiz"),
    ("maximiliane.schwarzenberger-lindqvist@long-company-name.example", "Maximiliane Schwarzenberger"),
    ("dev@northwind.example", "Dev Patel"),
    ("eun-ji.park@contoso.example", "Eun-ji Park"),
]


def _sign_up_by_post(live_server, email: str, name: str) -> None:
    form = {
        "email": email,
        "password": PASSWORD,
        "confirm": PASSWORD,
        "display_name": name,
        "timezone": "UTC",
    }
    request = urllib.request.Request(live_server.url + "/signup", data=urllib.parse.urlencode(form).encode())
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200  # followed the redirect to the dashboard


def _log_in(page, email: str) -> None:
    log_in(page, email)
    page.wait_for_url(re.compile(r"/$"))


def test_an_admin_from_the_cli_manages_users_and_reads_the_audit_log(new_page, live_server):
    created = run_flask(live_server, "users", "create-admin", "root@example.com", "--password", PASSWORD)
    assert created.returncode == 0, created.stderr
    for email, name in PEOPLE:
        _sign_up_by_post(live_server, email, name)
    hanna = new_page()
    sign_up(hanna, "hanna@example.org", "Hanna")  # signed in in her own browser throughout

    page = new_page(viewport=DESKTOP)
    _log_in(page, "root@example.com")
    account_menu(page).get_by_role("link", name="Admin").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    rows = page.locator("#user-results .admin-row")
    expect(rows.first).to_contain_text("hanna@example.org")  # the newest first
    for email, _ in PEOPLE:
        expect(rows.filter(has_text=email)).to_have_count(1)

    page.get_by_label("Search by e-mail").press_sequentially("contoso", delay=40)
    expect(rows).to_have_count(2)
    expect(page).to_have_url(re.compile(r"q=contoso"))
    page.get_by_label("Search by e-mail").fill("")
    expect(rows.filter(has_text="northwind")).to_have_count(3)

    for email in ("bo.chen@northwind.example", "hanna@example.org"):
        page.get_by_role("link", name=email, exact=True).click()
        page.get_by_role("button", name="Make admin").click()
        expect(page.locator("#user-summary")).to_contain_text(f"{email} is now an admin.")
        page.get_by_role("button", name="Remove admin role").click()
        expect(page.locator("#user-summary")).to_contain_text(f"{email} is no longer an admin.")
        page.get_by_role("button", name="Send a password reset").click()
        expect(page.locator("#user-summary")).to_contain_text("A password-reset link is on its way")
        page.get_by_role("link", name="All users").click()

    page.get_by_role("link", name="hanna@example.org", exact=True).click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#user-summary")).to_contain_text("hanna@example.org is deactivated and logged out.")
    expect(page.locator("#user-summary")).to_contain_text("Deactivated")
    look(page, "admin-user")

    hanna.reload()
    expect(hanna).to_have_url(re.compile(r"/login"))

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Users").click()
    expect(rows.filter(has_text="hanna@example.org")).to_contain_text("Deactivated")
    look(page, "admin-users")
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Audit log").click()
    entries = page.locator(".admin-row")
    expect(entries.first).to_contain_text("Deactivated")
    expect(entries.filter(has_text="hanna@example.org")).to_have_count(4)
    expect(entries.filter(has_text="bo.chen@northwind.example")).to_have_count(3)
    created = entries.filter(has_text="Created an admin").filter(has_text="root@example.com")
    expect(created).to_contain_text("cli")
    look(page, "admin-audit")

    page.set_viewport_size(PHONE)
    look(page, "admin-audit-phone")
    page.goto("/admin/users")
    look(page, "admin-users-phone")
    page.get_by_role("link", name=PEOPLE[3][0], exact=True).click()
    look(page, "admin-user-phone")


def test_rq_dashboard_works_under_its_content_security_policy(new_page, live_server):
    """new_page fails the test on any Content-Security-Policy refusal."""
    created = run_flask(
        live_server, "users", "create-admin", "jobs-admin@example.com", "--password", PASSWORD
    )
    assert created.returncode == 0, created.stderr
    page = new_page(viewport=DESKTOP)
    _log_in(page, "jobs-admin@example.com")
    page.goto("/admin/users")
    page.get_by_role("link", name="Jobs (rq-dashboard)").click()

    expect(page.locator('#queues tr[data-role="queue"]').first).to_be_visible()  # drawn by its scripts
    page.get_by_role("link", name="Workers").click()
    expect(page.locator('#workers tr[data-role="worker"]').first).to_be_visible()  # make run's worker
    screenshot(page, "admin-rq-workers")
