"""The admin dashboard: who may open it, managing users (search, pages, summary, role,
deactivation, password reset), the last-admin rule, and the audit log of every action."""

from __future__ import annotations

import re
import threading
import time

import pytest
from sqlalchemy import select, text, update

from tests.conftest import PASSWORD, AuthActions
from tests.support import add_task, copy_of_browser, make_user, outbox_files, page_text, reset_link
from webapp.admin.models import AuditEntry
from webapp.admin.services import LAST_ADMIN, NOT_YOURSELF, RESETS_USED_UP, AdminRuleBroken, set_admin
from webapp.cache import account_changed
from webapp.extensions import db
from webapp.models import Status, User, UserSession
from webapp.reminders.kinds import MailKind
from webapp.reminders.models import Delivery

ACCOUNT_DEACTIVATED = "This account has been deactivated"
RESETS = select(Delivery).where(Delivery.kind == MailKind.PASSWORD_RESET.value)


def _entries() -> list[tuple[str, str, str]]:
    """(actor, action, target) of every audit entry, oldest first."""
    rows = db.session.execute(
        select(AuditEntry.actor, AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


def _fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def _sent_to_log_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


# --- who may open it ----------------------------------------------------------------------------


def test_a_visitor_is_asked_to_log_in_and_comes_back_to_the_admin_page(client, admin):
    response = client.get("/admin/users?q=ada")
    assert _sent_to_log_in(response)
    assert "next=/admin/users?q%3Dada" in response.headers["Location"]


def test_a_user_who_is_not_an_admin_gets_the_forbidden_page(client, user):
    response = client.get("/admin/users")
    assert response.status_code == 403
    assert "You are not allowed to do that." in page_text(response)
    assert client.post(f"/admin/users/{user.id}/promote").status_code == 403
    assert not _fresh(user).is_admin


def test_the_main_nav_shows_admin_only_to_admins(client, user, admin_client, admin):
    assert ">Admin</a>" not in page_text(client.get("/"))
    assert ">Admin</a>" in page_text(admin_client.get("/"))


def test_the_admin_pages_link_to_each_other_and_to_the_job_dashboard(admin_client, admin):
    page = page_text(admin_client.get("/admin/users"))
    nav = re.search(r'<nav class="admin-nav".*?</nav>', page, re.DOTALL).group(0)
    assert 'href="/admin/users" aria-current="page">Users' in nav
    assert 'href="/admin/audit"' in nav
    assert 'href="/admin/rq/"' in nav
    assert 'href="/admin/"' in nav  # the overview, the landing page (test_admin_overview.py)


# --- users --------------------------------------------------------------------------------------


@pytest.fixture
def short_pages(app_config):
    app_config["ADMIN_PAGE_SIZE"] = 2


def _listed(response) -> list[str]:
    return re.findall(r'<a href="/admin/users/\d+">([^<]+)</a>', page_text(response))


def test_users_are_listed_newest_first_a_page_at_a_time(short_pages, admin_client, admin):
    for name in ("ada", "bob", "cy", "dee"):
        make_user(f"{name}@example.org")

    first = admin_client.get("/admin/users")
    assert _listed(first) == ["dee@example.org", "cy@example.org"]
    more = re.search(r'href="(/admin/users\?before=\d+)"', page_text(first)).group(1)

    second = admin_client.get(more, headers={"HX-Request": "true"})  # htmx appends just the rows
    assert "<h1>" not in page_text(second)
    assert _listed(second) == ["bob@example.org", "ada@example.org"]
    last = re.search(r'href="(/admin/users\?before=\d+)"', page_text(second)).group(1)
    assert _listed(admin_client.get(last)) == ["grace@example.com"]


def test_searching_finds_addresses_containing_the_text_and_keeps_it_across_pages(
    short_pages, admin_client, admin
):
    for name in ("ada", "bob", "cy"):
        make_user(f"{name}@example.org")
    make_user("100%_sure@example.net")

    found = admin_client.get("/admin/users?q=EXAMPLE.ORG")
    assert _listed(found) == ["cy@example.org", "bob@example.org"]
    more = (
        re.search(r'href="(/admin/users\?[^"]*before=[^"]*)"', page_text(found))
        .group(1)
        .replace("&amp;", "&")
    )
    assert "q=EXAMPLE.ORG" in more
    assert _listed(admin_client.get(more)) == ["ada@example.org"]

    assert _listed(admin_client.get("/admin/users?q=%25_")) == ["100%_sure@example.net"]  # not wildcards
    assert "No account's address contains" in page_text(admin_client.get("/admin/users?q=nobody"))


def test_an_htmx_search_answers_only_the_results(admin_client, admin):
    response = admin_client.get("/admin/users?q=grace", headers={"HX-Request": "true"})
    text = page_text(response)
    assert text.lstrip().startswith('<section id="user-results"')
    assert "grace@example.com" in text
    assert "HX-Request" in response.headers["Vary"]


def test_a_broken_more_users_link_is_a_400(admin_client, admin):
    assert admin_client.get("/admin/users?before=abc").status_code == 400


def test_a_users_summary_shows_their_tasks_by_status_and_activity(admin_client, admin, user):
    add_task(user, "Water the plants")
    add_task(user, "Call mum", status=Status.IN_PROGRESS)
    add_task(user, "Pay rent", status=Status.DONE)
    add_task(user, "In the bin", deleted_at=user.created_at)

    text = page_text(admin_client.get(f"/admin/users/{user.id}"))

    numbers = re.findall(r'stat-number">(\d+)</span> <span class="stat-label">([^<]+)<', text)
    stats = {label: number for number, label in numbers}
    assert stats == {"Tasks": "3", "To do": "1", "In progress": "1", "Done": "1", "Projects": "1"}
    assert "Signed in on</dt><dd>1 browser" in text
    assert "Address</dt><dd>Confirmed <time" in text
    assert "Last login</dt><dd><time" in text
    assert "Admin actions on this account" in text and "None yet." in text


def test_an_unknown_user_is_a_404(admin_client, admin):
    assert admin_client.get("/admin/users/999999").status_code == 404


def test_admin_pages_are_private_and_never_cached(admin_client, admin):
    response = admin_client.get("/admin/users")
    assert response.headers["Cache-Control"] == "private, no-store"


# --- deactivation -------------------------------------------------------------------------------


def test_deactivating_a_user_ends_their_sessions_at_once_even_cached_ones(
    app, client, user, admin_client, admin
):
    assert client.get("/tasks").status_code == 200
    assert client.get("/tasks").status_code == 200  # the session (and page) now come from the cache
    stolen = copy_of_browser(app, client)

    response = admin_client.post(f"/admin/users/{user.id}/deactivate")

    assert response.status_code == 303
    assert _sent_to_log_in(stolen.get("/tasks"))
    assert _sent_to_log_in(client.get("/"))
    assert "Log in" in page_text(client.get("/login"))
    assert db.session.scalar(select(UserSession).where(UserSession.user_id == user.id)) is None
    assert not _fresh(user).active


def test_deactivation_also_ends_a_remembered_browser(app, client, auth, user, admin_client, admin):
    auth.logout()
    auth.login(remember=True)
    remembered = app.test_client()
    remembered.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert remembered.get("/profile").status_code == 200

    admin_client.post(f"/admin/users/{user.id}/deactivate")

    replay = app.test_client()
    replay.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert _sent_to_log_in(replay.get("/profile"))


def test_a_deactivated_user_cannot_log_in_and_is_told_why_until_reactivated(
    client, auth, user, admin_client, admin
):
    admin_client.post(f"/admin/users/{user.id}/deactivate")

    refused = auth.login()
    assert refused.status_code == 422
    assert ACCOUNT_DEACTIVATED in page_text(refused)
    wrong_password = auth.login(password="not the password at all")
    assert ACCOUNT_DEACTIVATED not in page_text(wrong_password)  # only who knows the password learns it

    admin_client.post(f"/admin/users/{user.id}/reactivate")
    assert auth.login().status_code == 303


def test_a_reset_link_sent_before_deactivation_stops_working(
    app, client, user, admin_client, admin, run_jobs
):
    admin_client.post(f"/admin/users/{user.id}/password-reset")
    run_jobs()
    link = reset_link(app)
    admin_client.post(f"/admin/users/{user.id}/deactivate")

    response = client.post(
        link, data={"password": "a brand new passphrase", "confirm": "a brand new passphrase"}
    )
    assert response.status_code == 400
    assert AuthActions(app.test_client()).login(password="a brand new passphrase").status_code == 422


def test_an_admin_cannot_deactivate_themselves(admin_client, admin):
    response = admin_client.post(f"/admin/users/{admin.id}/deactivate")
    assert response.status_code == 409
    assert NOT_YOURSELF in page_text(response)
    assert _fresh(admin).active


# --- roles and the last-admin rule --------------------------------------------------------------


def test_promoting_shows_at_once_in_the_users_cached_session(client, user, admin_client, admin):
    assert client.get("/admin/users").status_code == 403

    admin_client.post(f"/admin/users/{user.id}/promote")

    assert client.get("/admin/users").status_code == 200
    admin_client.post(f"/admin/users/{user.id}/demote")
    assert client.get("/admin/users").status_code == 403


def test_the_last_admin_cannot_remove_their_own_admin_role(admin_client, admin):
    response = admin_client.post(f"/admin/users/{admin.id}/demote")

    assert response.status_code == 409
    assert LAST_ADMIN in page_text(response)
    assert _fresh(admin).is_admin
    assert [action for _, action, _ in _entries()] == ["promote"]  # only the fixture's


def test_an_htmx_refusal_shows_the_reason_in_the_flash_area(admin_client, admin):
    response = admin_client.post(f"/admin/users/{admin.id}/demote", headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#flash"
    assert LAST_ADMIN in page_text(response)


def test_with_two_admins_one_may_step_down_but_not_the_second(client, user, admin_client, admin):
    admin_client.post(f"/admin/users/{user.id}/promote")
    stepped_down = admin_client.post(f"/admin/users/{admin.id}/demote")
    assert stepped_down.status_code == 303
    assert stepped_down.headers["Location"] == "/"  # no longer an admin: back to the dashboard
    assert admin_client.get("/admin/users").status_code == 403

    assert client.post(f"/admin/users/{user.id}/demote").status_code == 409
    assert _fresh(user).is_admin


def test_a_deactivated_admin_does_not_count_as_an_admin(client, user, admin_client, admin):
    admin_client.post(f"/admin/users/{user.id}/promote")
    admin_client.post(f"/admin/users/{user.id}/deactivate")
    assert admin_client.post(f"/admin/users/{admin.id}/demote").status_code == 409


def test_an_htmx_action_swaps_the_users_section_with_a_message(admin_client, admin, user):
    response = admin_client.post(f"/admin/users/{user.id}/promote", headers={"HX-Request": "true"})
    text = page_text(response)
    assert response.status_code == 200
    assert text.lstrip().startswith('<div id="user-summary">')
    assert "ada@example.com is now an admin." in text
    assert "Remove admin role" in text


def test_repeating_an_action_changes_nothing_and_logs_nothing(admin_client, admin, user):
    admin_client.post(f"/admin/users/{user.id}/promote")
    again = admin_client.post(f"/admin/users/{user.id}/promote", follow_redirects=True)
    assert "ada@example.com was already an admin." in page_text(again)
    assert [action for _, action, _ in _entries()] == ["promote", "promote"]  # Grace's, then Ada's


# --- password reset -----------------------------------------------------------------------------


def test_an_admin_sends_a_password_reset_through_the_usual_mail(app, admin_client, admin, user, run_jobs):
    response = admin_client.post(f"/admin/users/{user.id}/password-reset", follow_redirects=True)
    assert "A password-reset link is on its way to ada@example.com." in page_text(response)

    run_jobs()
    [mail] = outbox_files(app)
    assert "To: ada@example.com" in mail.read_text()
    assert reset_link(app).startswith("/reset/")


def test_resets_stop_at_the_hourly_limit_with_a_reason(app, admin_client, admin, user):
    for _ in range(app.config["RESET_MAILS_PER_HOUR"]):
        assert admin_client.post(f"/admin/users/{user.id}/password-reset").status_code == 303
    response = admin_client.post(f"/admin/users/{user.id}/password-reset")
    assert response.status_code == 409
    assert RESETS_USED_UP in page_text(response)
    assert len(db.session.scalars(RESETS).all()) == 3
    assert [action for _, action, _ in _entries()].count("send_password_reset") == 3


def test_a_deactivated_user_gets_no_reset(admin_client, admin, user):
    admin_client.post(f"/admin/users/{user.id}/deactivate")
    assert admin_client.post(f"/admin/users/{user.id}/password-reset").status_code == 409
    assert db.session.scalars(RESETS).all() == []


# --- the audit log ------------------------------------------------------------------------------


def test_every_admin_action_is_in_the_audit_log(admin_client, admin, user):
    for action in ("promote", "demote", "password-reset", "deactivate", "reactivate"):
        admin_client.post(f"/admin/users/{user.id}/{action}")

    assert _entries() == [
        ("cli", "promote", "grace@example.com"),
        ("grace@example.com", "promote", "ada@example.com"),
        ("grace@example.com", "demote", "ada@example.com"),
        ("grace@example.com", "send_password_reset", "ada@example.com"),
        ("grace@example.com", "deactivate", "ada@example.com"),
        ("grace@example.com", "reactivate", "ada@example.com"),
    ]
    deactivation = db.session.scalar(select(AuditEntry).filter_by(action="deactivate"))
    assert deactivation.actor_id == admin.id and deactivation.target_id == user.id
    assert deactivation.details == "1 signed-in browser logged out"
    assert deactivation.created_at is not None


def test_the_audit_page_shows_entries_newest_first_a_page_at_a_time(short_pages, admin_client, admin, user):
    for action in ("promote", "demote", "deactivate"):
        admin_client.post(f"/admin/users/{user.id}/{action}")

    first = page_text(admin_client.get("/admin/audit"))
    assert re.findall(r"<strong>([^<]+)</strong>", first) == ["Deactivated", "Removed admin"]
    assert "grace@example.com" in first and f'href="/admin/users/{user.id}">ada@example.com' in first
    more = re.search(r'href="(/admin/audit\?before=\d+)"', first).group(1)
    rest = page_text(admin_client.get(more, headers={"HX-Request": "true"}))
    assert re.findall(r"<strong>([^<]+)</strong>", rest) == ["Made admin", "Made admin"]
    assert "Older entries" not in rest


def test_a_users_page_lists_what_admins_did_to_them(admin_client, admin, user):
    admin_client.post(f"/admin/users/{user.id}/promote")
    text = page_text(admin_client.get(f"/admin/users/{user.id}"))
    assert "<strong>Made admin</strong>" in text


def test_an_entry_outlives_the_accounts_it_names(admin_client, admin, user):
    admin_client.post(f"/admin/users/{user.id}/promote")
    db.session.delete(_fresh(user))
    db.session.commit()

    entry = db.session.scalar(select(AuditEntry).filter_by(target="ada@example.com"))
    assert entry.target_id is None
    assert "ada@example.com" in page_text(admin_client.get("/admin/audit"))


def test_no_page_asks_for_a_password_or_shows_a_hash(admin_client, admin, user):
    text = page_text(admin_client.get(f"/admin/users/{user.id}")) + page_text(
        admin_client.get("/admin/users")
    )
    assert "argon2" not in text and PASSWORD not in text


def test_a_session_that_outlived_a_deactivation_is_refused(client, user):
    """A login racing the deactivation could leave a session row behind: the loader refuses it."""
    db.session.execute(update(User).where(User.id == user.id).values(active=False))
    account_changed(user.id)
    db.session.commit()

    assert _sent_to_log_in(client.get("/tasks"))


def test_two_admins_removing_each_other_at_once_leave_one_admin(app, admin, user):
    """Grace's demotion is in flight (uncommitted, holding the admins' rows) when Ada's starts:
    Ada's waits for it, then sees it and is refused."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one write at a time; PostgreSQL is where two can interleave")
    set_admin(None, user, True)
    outcome = []

    def remove_ada() -> None:
        with app.app_context():
            try:
                set_admin(None, db.session.get(User, user.id), False)
                outcome.append("removed")
            except AdminRuleBroken:
                outcome.append("refused")

    with db.engine.connect() as grace_removed:
        grace_removed.execute(text("SELECT id FROM users WHERE is_admin AND active FOR UPDATE"))
        grace_removed.execute(text("UPDATE users SET is_admin = false WHERE id = :id"), {"id": admin.id})
        other = threading.Thread(target=remove_ada)
        other.start()
        _wait_until_a_query_waits_for_a_lock()
        grace_removed.commit()
    other.join(timeout=30)

    assert outcome == ["refused"]
    db.session.expire_all()
    assert db.session.scalars(select(User.email).where(User.is_admin)).all() == ["ada@example.com"]


def _wait_until_a_query_waits_for_a_lock(timeout: float = 15) -> None:
    waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    deadline = time.monotonic() + timeout
    with db.engine.connect() as observer:
        while observer.execute(waiting).scalar() == 0:
            assert time.monotonic() < deadline, "the second demotion never reached the lock"
            observer.rollback()
            time.sleep(0.01)
