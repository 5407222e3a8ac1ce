"""Accounts: sign-up, log in/out, sessions that really end, profile, password change and reset."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from tests.conftest import PASSWORD, AuthActions
from tests.support import (
    RESET_SENT,
    ask_for_reset,
    copy_of_browser,
    outbox_files,
    page_without_tokens,
    reset_link,
)
from webapp.auth import services
from webapp.extensions import db
from webapp.models import PasswordResetToken, Project, Task, User, UserSession
from webapp.reminders.kinds import MailKind
from webapp.reminders.models import Delivery
from webapp.timezones import now_utc

NEW_PASSWORD = "a brand new passphrase"
LOGIN_FAILED = "That e-mail and password do not match an account"
LINK_USED = "This link has expired or was already used"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _is_logged_in(client) -> bool:
    response = client.get("/profile")
    return response.status_code == 200


def _users() -> list[User]:
    return list(db.session.scalars(select(User)))


def _signup(client, **fields):
    data = {
        "email": "ada@example.com",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "display_name": "Ada",
        "timezone": "Europe/London",
    }
    data.update(fields)
    return client.post("/signup", data=data)


# --- sign-up ---------------------------------------------------------------------------------


def test_signing_up_makes_an_unconfirmed_account_with_an_inbox_and_asks_to_check_the_inbox(client, auth):
    response = auth.signup()
    assert response.status_code == 303
    assert response.headers["Location"] == "/signup/check-inbox"
    [user] = _users()
    assert (user.email, user.display_name, user.timezone) == ("ada@example.com", "Ada", "Europe/London")
    assert user.email_verified_at is None
    inbox = db.session.scalar(select(Project).where(Project.owner_id == user.id, Project.is_inbox.is_(True)))
    assert inbox is not None and inbox.name == "Inbox"
    assert "Check your inbox to confirm your address" in _text(client.get(response.headers["Location"]))
    assert not _is_logged_in(client)  # the same answer as for an address that has an account
    assert auth.login().status_code == 303  # but the new account can log in before confirming


def test_signup_page_offers_every_time_zone_with_the_browser_zone_preselectable(client):
    page = _text(client.get("/signup"))
    assert re.search(r'<select [^>]*data-browser-timezone id="timezone" name="timezone"', page)
    assert '<option selected value="UTC">UTC</option>' in page
    assert 'value="America/New_York"' in page
    assert '<label for="email">' in page and '<label for="confirm">' in page


def test_signing_up_again_with_an_address_in_another_case_makes_no_second_account(client, auth):
    auth.signup()
    response = auth.signup(email="  ADA@Example.COM ", display_name="Impostor")
    assert response.status_code == 303
    assert response.headers["Location"] == "/signup/check-inbox"
    assert [u.display_name for u in _users()] == ["Ada"]
    assert db.session.scalar(select(func.count()).select_from(Project)) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "not-an-address"}, "Enter an e-mail address like name@example.com."),
        ({"email": ""}, "Enter your e-mail address."),
        ({"password": "short", "confirm": "short"}, "Use between 12 and 128 characters."),
        ({"password": "x" * 257, "confirm": "x" * 257}, "Use between 12 and 128 characters."),
        ({"confirm": "something else entirely"}, "The two passwords do not match."),
        ({"timezone": "Mars/Olympus_Mons"}, "Choose a time zone from the list."),
        ({"display_name": "A" * 81}, "Use at most 80 characters."),
        ({"display_name": "   "}, "Enter the name we should show."),
    ],
)
def test_signup_with_bad_input_explains_what_to_fix_and_creates_nothing(client, fields, message):
    response = _signup(client, **fields)
    assert response.status_code == 422
    page = _text(response)
    assert message in page
    assert 'aria-invalid="true"' in page
    assert _users() == []


def test_a_huge_request_body_gets_the_too_large_page(client):
    response = _signup(client, display_name="A" * 100_000)
    assert response.status_code == 413
    assert "That was too large" in _text(response)
    assert _users() == []


def test_passwords_are_stored_as_argon2_hashes(user):
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


# --- log in ----------------------------------------------------------------------------------


def test_logging_in_with_the_right_password_goes_to_the_dashboard(client, auth, user):
    auth.logout()
    response = auth.login()
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert _is_logged_in(client)


def test_the_email_is_matched_whatever_its_case(client, auth, user):
    auth.logout()
    assert auth.login(email="ADA@example.com").status_code == 303


def test_a_wrong_password_and_an_unknown_email_get_the_same_generic_message(client, auth, user):
    auth.logout()
    client.get("/login")  # shows and so clears the flash messages
    wrong_password = auth.login(password="not the password at all")
    unknown_email = auth.login(email="nobody@example.com")
    assert wrong_password.status_code == unknown_email.status_code == 422
    assert LOGIN_FAILED in _text(wrong_password)
    same_page = page_without_tokens(unknown_email).replace("nobody@example.com", "ada@example.com")
    assert page_without_tokens(wrong_password) == same_page
    assert not _is_logged_in(client)


def test_login_returns_to_the_page_the_user_asked_for(client, auth, user):
    auth.logout()
    response = client.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/profile"
    response = client.post("/login?next=/profile", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/profile"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_off_site(client, auth, user, target):
    auth.logout()
    response = client.post(
        "/login", query_string={"next": target}, data={"email": "ada@example.com", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_an_htmx_login_with_a_bad_password_returns_only_the_form(client, user, auth):
    auth.logout()
    response = client.post(
        "/login",
        data={"email": "ada@example.com", "password": "wrong password"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    page = _text(response)
    assert "<html" not in page
    assert page.lstrip().startswith('<form id="login-form"')
    assert LOGIN_FAILED in page
    assert "HX-Request" in response.headers["Vary"]


def test_an_htmx_login_that_succeeds_reloads_the_whole_page(client, user, auth):
    auth.logout()
    response = client.post(
        "/login", data={"email": "ada@example.com", "password": PASSWORD}, headers={"HX-Request": "true"}
    )
    assert response.headers["HX-Redirect"] == "/"


def test_an_htmx_request_without_a_session_is_sent_to_the_login_page(client):
    response = client.get("/profile", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/profile"


def _configured_hasher(app) -> PasswordHasher:
    config = app.config
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_KIB"],
        parallelism=config["ARGON2_PARALLELISM"],
    )


def test_login_upgrades_a_password_hash_made_with_other_argon2_settings(app, client, auth, user):
    user.password_hash = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2).hash(PASSWORD)
    db.session.commit()
    auth.logout()
    assert auth.login().status_code == 303
    db.session.refresh(user)
    assert not _configured_hasher(app).check_needs_rehash(user.password_hash)
    assert PasswordHasher().verify(user.password_hash, PASSWORD)


def test_production_hashes_with_argon2id_above_owasps_minimum():
    from webapp.config import Config

    owasp_minimum = {"ARGON2_MEMORY_KIB": 19 * 1024, "ARGON2_TIME_COST": 2, "ARGON2_PARALLELISM": 1}
    assert all(getattr(Config, name) >= least for name, least in owasp_minimum.items())


@pytest.mark.parametrize("password", ["password1234", "Qwerty123456!", "dragon2024!!!", "iloveyou12345"])
def test_common_passwords_are_refused_with_a_clear_message(client, password):
    response = _signup(client, password=password, confirm=password)

    assert response.status_code == 422
    assert "one of the most common ones" in _text(response)
    assert _users() == []


def test_a_password_must_have_12_to_128_characters(client):
    for password in ("eleven char", "x" * 129):
        response = _signup(client, password=password, confirm=password)
        assert response.status_code == 422
        assert "Use between 12 and 128 characters." in _text(response)
    assert _users() == []


# --- sessions that really end ----------------------------------------------------------------


def test_remember_me_keeps_the_user_logged_in_after_the_browser_session_ends(client, auth, user):
    auth.logout()
    auth.login(remember=True)
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")
    assert _is_logged_in(client)


def test_without_remember_me_closing_the_browser_logs_out(client, auth, user):
    auth.logout()
    auth.login()
    assert client.get_cookie("remember_token") is None
    client.delete_cookie("session")
    assert not _is_logged_in(client)


def test_logout_is_a_post_only_action(client, user):
    assert client.get("/logout").status_code == 405
    assert _is_logged_in(client)


def test_after_logout_a_replayed_session_cookie_is_rejected(app, client, auth, user):
    old_cookie = _session_cookie(client)
    response = auth.logout()
    assert response.status_code == 303
    assert not _is_logged_in(client)

    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    response = replay.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_after_logout_a_replayed_remember_cookie_is_rejected(app, client, auth, user):
    auth.logout()
    auth.login(remember=True)
    old_remember = client.get_cookie("remember_token").value
    auth.logout()

    replay = app.test_client()
    replay.set_cookie("remember_token", old_remember)
    assert not _is_logged_in(replay)


def test_an_idle_session_expires(client, user):
    db.session.execute(db.update(UserSession).values(expires_at=now_utc() - timedelta(seconds=1)))
    db.session.commit()
    assert not _is_logged_in(client)


def test_using_the_app_keeps_a_session_alive(app, client, user):
    soon = now_utc() + timedelta(hours=1)
    db.session.execute(db.update(UserSession).values(expires_at=soon))
    db.session.commit()
    assert _is_logged_in(client)
    [row] = db.session.scalars(select(UserSession).execution_options(populate_existing=True))
    idle = timedelta(hours=app.config["SESSION_IDLE_HOURS"])
    assert row.expires_at > now_utc() + idle - timedelta(minutes=1)


def test_the_bell_polling_in_an_open_tab_does_not_keep_an_idle_session_alive(client, user):
    soon = now_utc() + timedelta(hours=1)
    db.session.execute(db.update(UserSession).values(expires_at=soon))
    db.session.commit()
    response = client.get("/notifications/count", headers={"HX-Request": "true"})
    assert response.status_code == 200
    [row] = db.session.scalars(select(UserSession).execution_options(populate_existing=True))
    assert row.expires_at == soon


def test_changing_the_password_logs_out_other_devices_but_not_this_one(app, client, auth, user):
    laptop = app.test_client()
    AuthActions(laptop).login(remember=True)
    laptop_session = _session_cookie(laptop)
    laptop_remember = laptop.get_cookie("remember_token").value
    assert _is_logged_in(laptop)

    response = client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    page = client.get("/profile")
    assert page.status_code == 200
    assert "You are logged out everywhere else" in _text(page)

    assert not _is_logged_in(laptop)
    replay = app.test_client()
    replay.set_cookie("session", laptop_session)
    replay.set_cookie("remember_token", laptop_remember)
    assert not _is_logged_in(replay)


def test_changing_the_password_also_retires_this_browsers_old_cookie(app, client, user):
    old_cookie = _session_cookie(client)
    client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    assert not _is_logged_in(replay)


def test_after_a_password_change_only_the_new_password_works(client, auth, user):
    client.post(
        "/profile/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    auth.logout()
    assert auth.login().status_code == 422
    assert auth.login(password=NEW_PASSWORD).status_code == 303


def test_changing_the_password_needs_the_current_one(client, auth, user):
    response = client.post(
        "/profile/password",
        data={"current_password": "a wrong guess here", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert "That is not your current password." in _text(response)
    auth.logout()
    assert auth.login().status_code == 303


# --- profile ---------------------------------------------------------------------------------


def test_profile_changes_name_and_time_zone(client, user):
    page = _text(client.get("/profile"))
    assert 'value="Ada"' in page and 'value="Europe/London"' in page
    response = client.post("/profile", data={"display_name": "Ada L.", "timezone": "Asia/Tokyo"})
    assert response.status_code == 303
    db.session.refresh(user)
    assert (user.display_name, user.timezone) == ("Ada L.", "Asia/Tokyo")
    assert "Ada L." in _text(client.get("/profile"))


def test_profile_refuses_an_unknown_time_zone(client, user):
    response = client.post("/profile", data={"display_name": "Ada", "timezone": "Nowhere/Special"})
    assert response.status_code == 422
    assert "“Nowhere/Special” is not a time zone we know." in _text(response)
    db.session.refresh(user)
    assert user.timezone == "Europe/London"


def test_the_profile_needs_a_login(client):
    response = client.get("/profile")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- password reset --------------------------------------------------------------------------


def test_reset_request_answers_the_same_for_known_and_unknown_addresses(client, user, auth):
    auth.logout()
    client.get("/login")  # shows and so clears the flash messages
    unknown = ask_for_reset(client, "nobody@example.com")
    known = ask_for_reset(client, "ada@example.com")
    assert unknown.status_code == known.status_code == 200
    assert page_without_tokens(unknown) == page_without_tokens(known)
    assert RESET_SENT in _text(known)


def test_reset_request_sends_mail_from_a_job_not_from_the_request(app, client, user, run_jobs):
    ask_for_reset(client, "nobody@example.com")
    ask_for_reset(client, "ADA@example.com")
    assert outbox_files(app) == []
    resets = select(Delivery.user_id).where(Delivery.kind == MailKind.PASSWORD_RESET.value)
    assert db.session.scalars(resets).all() == [user.id]

    run_jobs()

    [mail] = outbox_files(app)
    text = mail.read_text()
    assert "To: ada@example.com" in text
    assert "Subject: Reset your Tasklane password" in text
    assert re.search(r"http://localhost/reset/[\w-]{40,}", text)
    [token] = db.session.scalars(select(PasswordResetToken))
    assert token.user_id == user.id and token.used_at is None
    assert token.token_hash not in text  # only the hash is stored, never the token itself


def test_following_the_reset_link_sets_a_new_password_and_logs_in(app, client, auth, user, run_jobs):
    laptop = app.test_client()
    AuthActions(laptop).login()
    auth.logout()
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    link = reset_link(app)

    assert client.get(link).status_code == 200
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert _is_logged_in(client)
    assert not _is_logged_in(laptop)

    auth.logout()
    assert auth.login().status_code == 422
    assert auth.login(password=NEW_PASSWORD).status_code == 303


def test_a_reset_link_works_only_once(app, client, user, run_jobs):
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    link = reset_link(app)
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    for response in (
        client.get(link),
        client.post(link, data={"password": "yet another passphrase", "confirm": "yet another passphrase"}),
    ):
        assert response.status_code == 400
        assert LINK_USED in _text(response)
    assert AuthActions(app.test_client()).login(password=NEW_PASSWORD).status_code == 303


def test_an_expired_reset_link_fails(app, client, user, run_jobs):
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    link = reset_link(app)
    db.session.execute(db.update(PasswordResetToken).values(expires_at=now_utc() - timedelta(seconds=1)))
    db.session.commit()

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert LINK_USED in _text(response)
    assert AuthActions(app.test_client()).login().status_code == 303


def test_a_made_up_reset_link_fails(client):
    response = client.get("/reset/not-a-real-token")
    assert response.status_code == 400
    assert LINK_USED in _text(response)


def test_the_reset_form_checks_the_new_password(app, client, user, run_jobs):
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    link = reset_link(app)
    response = client.post(link, data={"password": "short", "confirm": "short"})
    assert response.status_code == 422
    assert "Use between 12 and 128 characters." in _text(response)
    assert client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}).status_code == 303


# --- development outbox ----------------------------------------------------------------------


def test_the_outbox_lists_mail_and_shows_it_with_clickable_links(app, client, user, run_jobs):
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    link = reset_link(app)

    listing = _text(client.get("/outbox"))
    assert "Development outbox" in listing
    assert "ada@example.com" in listing and "Reset your Tasklane password" in listing
    [name] = re.findall(r'href="/outbox/([^"]+)"', listing)

    message = _text(client.get(f"/outbox/{name}"))
    assert f'<a href="http://localhost{link}">http://localhost{link}</a>' in message


@pytest.fixture
def real_mail(app_config):
    app_config["MAIL_URL"] = "smtp://mail.example:25"


def test_the_outbox_does_not_exist_when_real_mail_is_configured(real_mail, client):
    assert client.get("/outbox").status_code == 404
    assert client.get("/outbox/20260101T000000000000Z-0123456789ab.eml").status_code == 404


def test_the_outbox_refuses_paths_outside_it(client):
    assert client.get("/outbox/..%2Fsecret_key").status_code == 404
    assert client.get("/outbox/secret_key").status_code == 404


# --- CSRF ------------------------------------------------------------------------------------


def test_forms_need_the_csrf_token(csrf_on, client):
    """Signed-in forms carry a session token; the anonymous ones (log in, sign up, reset) are
    checked by origin instead, so their pages set no cookie (tests/test_cache.py)."""
    services.create_account("ada@example.com", PASSWORD, "Ada", "UTC")
    response = client.post("/login", data={"email": "ada@example.com", "password": PASSWORD})
    assert response.status_code == 303
    assert client.post("/tasks", data={"title": "Buy milk"}).status_code == 400

    page = _text(client.get("/tasks"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/tasks", data={"title": "Buy milk", "csrf_token": token})
    assert response.status_code == 303


def test_a_form_posted_after_the_session_ended_asks_to_log_in(csrf_on, app, client, user):
    """Logged out in another tab: quick add on the page still open there is a login to ask for
    (it was "The CSRF session token is missing."), then back to the page after logging in."""
    page = _text(client.get("/tasks?sort=priority"))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    _log_out_in_another_tab(app, client, token)

    response = client.post(
        "/tasks",
        data={"title": "Buy milk", "csrf_token": token},
        headers={"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1:8000/tasks?sort=priority"},
    )

    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/tasks?sort%3Dpriority"
    assert "Your session has ended" in _text(client.get(response.headers["HX-Redirect"]))
    login = client.post(
        response.headers["HX-Redirect"], data={"email": "ada@example.com", "password": PASSWORD}
    )
    assert login.headers["Location"] == "/tasks?sort=priority"
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0


def test_a_click_after_the_session_ended_comes_back_to_the_page_it_was_on(app, client, user):
    _log_out_in_another_tab(app, client)
    response = client.post(
        "/tasks/1/toggle",
        headers={"HX-Request": "true", "HX-Current-URL": "http://127.0.0.1:8000/upcoming"},
    )
    assert (response.status_code, response.headers["HX-Redirect"]) == (401, "/login?next=/upcoming")


def _log_out_in_another_tab(app, client, csrf_token: str = "") -> None:
    """The other tab holds the same cookies; its logout ends the session for both."""
    tab = copy_of_browser(app, client)
    assert tab.post("/logout", data={"csrf_token": csrf_token}).status_code in (302, 303)


# --- sessions: log out elsewhere, a reset link's login, the absolute limit ---------------------


def test_log_out_everywhere_else_ends_the_other_browsers_and_keeps_this_one(app, client, auth, user):
    laptop, phone = app.test_client(), app.test_client()
    AuthActions(laptop).login()
    AuthActions(phone).login()
    assert "also logged in on 2 other browsers" in client.get("/profile").get_data(as_text=True)

    response = client.post("/profile/sessions/others/end", follow_redirects=True)

    assert "Logged out 2 other browsers." in response.get_data(as_text=True)
    assert "not logged in anywhere else" in response.get_data(as_text=True)
    assert _is_logged_in(client)
    assert not _is_logged_in(laptop) and not _is_logged_in(phone)


def test_logging_in_through_a_reset_link_ends_the_session_that_was_in_the_browser(
    app, client, user, other_client, other_user, run_jobs
):
    """Bob's browser opens Ada's reset link: Bob's session ends, not just his cookie."""
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    bobs_cookie_elsewhere = copy_of_browser(app, other_client)

    other_client.post(reset_link(app), data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert "Ada" in other_client.get("/profile").get_data(as_text=True)
    assert not _is_logged_in(bobs_cookie_elsewhere)


def test_a_busy_session_without_remember_me_ends_a_week_after_login(client, user):
    assert _is_logged_in(client)
    session = db.session.scalar(select(UserSession).filter_by(user_id=user.id))
    session.created_at = now_utc() - timedelta(days=8)
    session.expires_at = now_utc() + timedelta(hours=1)  # idle expiry due to slide forward
    db.session.commit()

    assert _is_logged_in(client)  # still inside its idle expiry: this request is served
    assert not _is_logged_in(client)  # but the slide stopped at a week after login


def _reset_links(app) -> list[str]:
    mails = [path.read_text() for path in outbox_files(app)]
    return [re.search(r"http://localhost(/reset/[\w-]+)", mail).group(1) for mail in mails]


def test_at_most_three_reset_mails_an_hour_reach_one_inbox_and_only_the_newest_link_works(
    app, client, user, run_jobs
):
    for _ in range(5):
        response = ask_for_reset(client, "ada@example.com")
        assert response.status_code == 200 and RESET_SENT in _text(response)  # the same answer each time
    run_jobs()

    links = _reset_links(app)

    assert len(links) == 3
    assert sorted(client.get(link).status_code for link in links) == [200, 400, 400]
