"""Confirmed addresses: a new account confirms its address by a mailed link before any mail about
its tasks goes to it, and sign-up answers alike for a new address and one that has an account.
Mail goes through the real delivery pipeline: RQ workers, the SMTP sink, the database."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, update

from jobs.reminders import plan_overdue_mails, run_sweep
from tests.conftest import PASSWORD
from tests.support import (
    add_task,
    ask_for_reset,
    count,
    make_reminders,
    make_user,
    page_text,
    page_without_tokens,
)
from webapp.auth.services import authenticate, hash_password
from webapp.config import Config
from webapp.extensions import db
from webapp.models import EmailConfirmation, Task, User
from webapp.reminders.kinds import MailKind
from webapp.reminders.models import Delivery, DeliveryState, Notification
from webapp.timezones import now_utc

LINK = re.compile(r"http://localhost(/email/confirm/[\w-]+)")
CHECK_INBOX = "/signup/check-inbox"
BANNER = "Confirm your address: we sent a link to"
CONFIRM_SUBJECT = "Confirm your address for Tasklane"
NOTICE_SUBJECT = "Someone tried to sign up with your address"
HTMX = {"HX-Request": "true"}
BEFORE_CONFIRMATION = "3f6b2c9d8e71"  # the migration before addresses were confirmed


def _user(email: str = "ada@example.com") -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(email=email))


def _links(sink, to: str = "ada@example.com") -> list[str]:
    """The confirmation links mailed to `to`, oldest first."""
    return [LINK.search(mail.text).group(1) for mail in sink.received if mail.to == to]


def _subjects(sink) -> list[str]:
    return [mail.subject for mail in sink.received]


def _post_and_close(client, path: str, **kwargs):
    """A form post whose response closes, as a browser's does: then the app asks for the mail."""
    with client.post(path, **kwargs) as response:
        return response


def _confirmations(user: User) -> int:
    return count(Delivery, Delivery.user_id == user.id, Delivery.kind == MailKind.EMAIL_CONFIRMATION.value)


# --- the whole story ----------------------------------------------------------------------------


def test_a_new_account_confirms_its_address_by_the_mailed_link_and_then_gets_reminders_by_mail(
    smtp_sink, app, client, auth, run_jobs
):
    response = auth.signup()
    assert (response.status_code, response.headers["Location"]) == (303, CHECK_INBOX)
    assert "Check your inbox to confirm your address" in page_text(client.get(CHECK_INBOX))
    assert auth.login().status_code == 303
    make_reminders(_user(), 1, now_utc() - timedelta(minutes=1))
    run_sweep()
    run_jobs()

    assert _subjects(smtp_sink) == [CONFIRM_SUBJECT]  # and no reminder: the address is unconfirmed
    assert count(Notification, Notification.user_id == _user().id) == 1  # the bell still has it
    for page in ("/", "/tasks", "/tasks"):  # the second /tasks from the cache
        assert f"{BANNER} <strong>ada@example.com</strong>" in page_text(client.get(page))

    phone = app.test_client()  # the mail is read on the phone, where nobody is signed in
    [link] = _links(smtp_sink)
    assert "Confirm my address" in page_text(phone.get(link))
    assert _user().email_verified_at is None  # opening the link confirms nothing: mail scanners do
    response = phone.post(link)
    assert (response.status_code, response.headers["Location"]) == (303, "/email/confirmed")
    assert "Your address is confirmed" in page_text(phone.get("/email/confirmed"))
    assert _user().email_verified_at is not None
    for page in ("/", "/tasks"):
        assert BANNER not in page_text(client.get(page))  # the laptop's cached pages are not reused

    make_reminders(_user(), 1, now_utc() - timedelta(minutes=1))
    run_sweep()
    run_jobs()
    assert _subjects(smtp_sink) == [CONFIRM_SUBJECT, "Reminder: Task number 0"]


# --- no mail about tasks to an unconfirmed address --------------------------------------------


def test_no_reminder_daily_overdue_or_weekly_mail_goes_to_an_unconfirmed_address_until_it_is_confirmed(
    smtp_sink, app, run_jobs
):
    monday = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 09:30 in London: daily and weekly time
    eve = make_user("eve@example.com", confirmed=False, digest_planned_on=None)
    ada = make_user(digest_planned_on=None)
    for user in (eve, ada):
        add_task(user, "Due tomorrow", due_at=datetime(2026, 11, 24, 12, tzinfo=UTC))
        add_task(user, "Overdue", due_at=datetime(2026, 11, 22, 12, tzinfo=UTC))
        make_reminders(user, 1, monday - timedelta(minutes=1))

    run_sweep(monday)
    plan_overdue_mails(monday)
    run_jobs()

    assert {mail.to for mail in smtp_sink.received} == {"ada@example.com"}
    assert sorted(_subjects(smtp_sink)) == [
        "Due tomorrow: 1 task",
        "Overdue: 1 task",
        "Reminder: Task number 0",
        "Your week in Tasklane",
    ]
    assert count(Delivery, Delivery.user_id == eve.id) == 0
    assert count(Notification, Notification.user_id == eve.id) == 1  # her reminder, in the app

    eve.email_verified_at = now_utc()
    db.session.commit()
    run_sweep(monday + timedelta(minutes=1))
    plan_overdue_mails(monday + timedelta(hours=1))
    run_jobs()
    to_eve = sorted(mail.subject for mail in smtp_sink.received if mail.to == "eve@example.com")
    assert to_eve == ["Due tomorrow: 1 task", "Overdue: 1 task", "Your week in Tasklane"]


def test_a_mail_about_tasks_planned_for_an_unconfirmed_address_is_skipped_not_sent(smtp_sink, app, run_jobs):
    eve = make_user("eve@example.com", confirmed=False)
    task = add_task(eve, "Water the plants")
    payload = json.dumps({"task_id": task.id})
    db.session.add(Delivery(key="reminder:planned-by-hand", user_id=eve.id, kind="reminder", payload=payload))
    db.session.commit()

    run_sweep()
    run_jobs()

    assert smtp_sink.received == []
    assert db.session.scalar(select(Delivery.state)) == DeliveryState.SKIPPED


# --- the same answer for a new address and one that has an account -----------------------------


def _sign_up_as_someone(app, email: str, headers: dict | None = None) -> tuple:
    """What a browser sees when it signs up with `email`: the answer, and the page it goes to."""
    browser = app.test_client()
    data = {
        "email": email,
        "password": "somebody else's passphrase",
        "confirm": "somebody else's passphrase",
        "display_name": "Impostor",
        "timezone": "UTC",
    }
    response = _post_and_close(browser, "/signup", data=data, headers=headers or {})
    target = response.headers.get("Location") or response.headers.get("HX-Redirect")
    page = browser.get(target)
    return (
        response.status_code,
        target,
        response.headers.getlist("Set-Cookie"),
        page_text(response),
        page.status_code,
        page_without_tokens(page),
    )


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["form", "htmx"])
def test_sign_up_answers_alike_for_a_new_address_and_one_with_an_account_whose_owner_is_told(
    smtp_sink, app, run_jobs, headers
):
    make_user()  # Ada has an account

    existing = _sign_up_as_someone(app, "  ADA@Example.com ", headers)
    new = _sign_up_as_someone(app, "grace@example.com", headers)

    assert existing == new
    assert new[:3] == ((303, CHECK_INBOX, []) if not headers else (204, CHECK_INBOX, []))
    run_jobs()
    notice = next(mail for mail in smtp_sink.received if mail.to == "ada@example.com")
    assert notice.subject == NOTICE_SUBJECT
    assert {"http://localhost/reset", "http://localhost/login"} <= set(notice.text.split())
    assert [mail.subject for mail in smtp_sink.received if mail.to == "grace@example.com"] == [
        CONFIRM_SUBJECT
    ]
    assert [user.display_name for user in db.session.scalars(select(User).order_by(User.id))] == [
        "Ada",
        "Impostor",
    ]
    assert authenticate("ada@example.com", PASSWORD) is not None
    assert authenticate("ada@example.com", "somebody else's passphrase") is None


@pytest.fixture
def production_hashing(app_config):
    """argon2id with the parameters production uses (tests run cheap ones)."""
    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        app_config[name] = getattr(Config, name)


def test_signing_up_with_an_address_that_has_an_account_takes_a_full_password_hash_too(
    production_hashing, app, capsys
):
    """Timing: without the hash, that answer would come in a few milliseconds. A busy machine only
    makes things slower, so the fastest of several tries of each, taken in turns, are compared."""
    make_user()
    fastest = {"hash": float("inf"), "existing": float("inf"), "new": float("inf")}
    for n in range(7):
        for name, work in (
            ("hash", lambda: hash_password("a passphrase to time")),
            ("existing", lambda: _sign_up_as_someone(app, "ada@example.com")),
            ("new", lambda: _sign_up_as_someone(app, f"new{n}@example.com")),  # noqa: B023 (run at once)
        ):
            started = time.perf_counter()
            work()
            fastest[name] = min(fastest[name], time.perf_counter() - started)

    with capsys.disabled():
        print("\nfastest of 7 (ms):", {name: round(seconds * 1000) for name, seconds in fastest.items()})
    assert fastest["existing"] >= 0.5 * fastest["hash"] and fastest["new"] >= 0.5 * fastest["hash"]


def test_sign_up_notices_reach_one_inbox_at_most_three_times_an_hour(smtp_sink, app, run_jobs):
    make_user()
    for _ in range(5):
        assert _sign_up_as_someone(app, "ada@example.com")[:2] == (303, CHECK_INBOX)
    run_jobs()
    assert _subjects(smtp_sink) == [NOTICE_SUBJECT] * 3


# --- links that cannot confirm ------------------------------------------------------------------


@pytest.fixture
def expired(smtp_sink, app, auth, run_jobs) -> str:
    """Ada signed up and was mailed her link, which has since expired."""
    auth.signup()
    run_jobs()
    [link] = _links(smtp_sink)
    db.session.execute(update(EmailConfirmation).values(expires_at=now_utc() - timedelta(seconds=1)))
    db.session.commit()
    return link


def test_an_expired_link_says_so_and_sends_a_new_one_that_works(smtp_sink, expired, client, run_jobs):
    page = client.get(expired)
    assert page.status_code == 410
    assert "This link has expired." in page_text(page) and "Send a new link" in page_text(page)
    assert client.post(expired).status_code == 410
    assert _user().email_verified_at is None

    response = _post_and_close(client, f"{expired}/new-link")
    assert (response.status_code, response.headers["Location"]) == (303, CHECK_INBOX)
    run_jobs()
    [_, fresh] = _links(smtp_sink)
    assert fresh != expired
    assert client.post(fresh).headers["Location"] == "/email/confirmed"
    assert _user().email_verified_at is not None


def test_a_used_link_confirms_nothing_more_and_ends_the_other_links(smtp_sink, app, client, auth, run_jobs):
    auth.signup()
    auth.login()
    _post_and_close(client, "/email/send-again", data={"next": "/tasks"})
    run_jobs()
    first, second = _links(smtp_sink)

    assert client.post(first).status_code == 303
    confirmed_at = _user().email_verified_at
    for replayed in (client.post(first), client.get(first), client.post(second)):
        assert replayed.status_code == 200
        assert "This link was used already: your address is confirmed." in page_text(replayed)
    assert _user().email_verified_at == confirmed_at
    assert count(EmailConfirmation, EmailConfirmation.used_at.is_(None)) == 0


def test_a_link_we_never_sent_is_not_found_and_sends_nothing(app, client, auth):
    auth.signup()
    for response in (
        client.get("/email/confirm/made-up"),
        _post_and_close(client, "/email/confirm/made-up/new-link"),
    ):
        assert response.status_code == 404
        assert "This link does not work" in page_text(response) and "Send a new link" not in page_text(
            response
        )
    assert _confirmations(_user()) == 1  # the one sign-up planned


# --- sending the link again -----------------------------------------------------------------------


def test_send_again_mails_a_new_link_at_most_three_times_an_hour_and_each_works(
    smtp_sink, app, client, auth, run_jobs
):
    auth.signup()  # the first link
    auth.login()

    sent = _post_and_close(client, "/email/send-again", data={"next": "/tasks"}, headers=HTMX)
    assert "We sent a new link to ada@example.com" in page_text(sent)
    sent = _post_and_close(client, "/email/send-again", data={"next": "/tasks"})
    assert (sent.status_code, sent.headers["Location"]) == (303, "/tasks")
    assert "We sent a new link to ada@example.com" in page_text(client.get("/tasks"))
    refused = _post_and_close(client, "/email/send-again", data={"next": "/tasks"}, headers=HTMX)
    assert "We have sent several links in the last hour" in page_text(refused)
    run_jobs()

    links = _links(smtp_sink)
    assert _subjects(smtp_sink) == [CONFIRM_SUBJECT] * 3 and len(set(links)) == 3
    assert all("Confirm my address" in page_text(client.get(link)) for link in links)  # a late mail works

    db.session.execute(update(Delivery).values(created_at=now_utc() - timedelta(hours=1, seconds=1)))
    db.session.commit()  # an hour later
    assert "We sent a new link" in page_text(_post_and_close(client, "/email/send-again", headers=HTMX))


def test_new_links_asked_for_from_an_expired_one_are_capped_alike(smtp_sink, expired, client, run_jobs):
    for _ in range(5):
        assert _post_and_close(client, f"{expired}/new-link").headers["Location"] == CHECK_INBOX
    run_jobs()
    assert _subjects(smtp_sink) == [CONFIRM_SUBJECT] * 3


def test_a_confirmed_user_sees_no_banner_and_sending_again_sends_nothing(
    smtp_sink, app, client, user, run_jobs
):
    assert BANNER not in page_text(client.get("/"))
    response = _post_and_close(client, "/email/send-again", headers=HTMX)
    assert "Your address is confirmed." in page_text(response)
    run_jobs()
    assert smtp_sink.received == []


# --- other ways an address is confirmed, or was -------------------------------------------------


def test_choosing_a_new_password_by_the_mailed_link_confirms_the_address_too(
    smtp_sink, app, client, run_jobs
):
    eve = make_user("eve@example.com", confirmed=False)
    ask_for_reset(client, "eve@example.com")
    run_jobs()
    [mail] = smtp_sink.received
    path = re.search(r"http://localhost(/reset/[\w-]+)", mail.text).group(1)
    new_password = {"password": "a brand new passphrase", "confirm": "a brand new passphrase"}
    assert client.post(path, data=new_password).status_code == 303
    assert _user(eve.email).email_verified_at is not None


def test_accounts_from_before_confirmation_count_as_confirmed_at_the_upgrade_and_keep_their_tasks(app):
    old = make_user("old@example.com", confirmed=False)
    add_task(old, "Still here")
    downgrade(revision=BEFORE_CONFIRMATION)
    upgrade()
    old = _user("old@example.com")
    assert old.email_verified_at == old.created_at
    assert count(Task, Task.owner_id == old.id) == 1
