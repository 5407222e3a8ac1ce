"""Failed mail in the admin dashboard: a mail a real SMTP server refused, listed with the error,
retried under its key (real worker processes send it, and only once, however often it is
retried) or discarded (never sent), one or all, each in the audit log."""

from __future__ import annotations

from datetime import timedelta
from secrets import token_hex

import pytest
from sqlalchemy import select

from jobs.reminders import run_sweep
from tests.conftest import AuthActions
from tests.support import (
    NOW,
    assert_received_exactly,
    count,
    make_reminders,
    make_user,
    page_text,
    reminder_ids,
)
from webapp.admin.mail_failures import NO_LONGER_FAILED
from webapp.admin.models import AuditEntry
from webapp.admin.services import set_admin
from webapp.extensions import db
from webapp.reminders.models import Delivery, DeliveryState

HTMX = {"HX-Request": "true"}
REFUSED = "550 5.1.1 No such user"


def _delivery() -> Delivery:
    """Ada's reminder mail (signing up planned other mail)."""
    db.session.expire_all()
    return db.session.scalar(select(Delivery).where(Delivery.kind == "reminder"))


def _audited() -> list[tuple[str, str, str]]:
    """(action, target, details) of what admins did in the dashboard (not the fixture's promotion)."""
    entries = select(AuditEntry.action, AuditEntry.target, AuditEntry.details).where(
        AuditEntry.actor_id.is_not(None)
    )
    return [tuple(row) for row in db.session.execute(entries.order_by(AuditEntry.id))]


@pytest.fixture
def refused_reminder(smtp_sink, app, run_worker_process):
    """Ada's reminder, which the mail server refused for good when a real worker sent it."""
    ada = make_user()
    reminders = make_reminders(ada, 1, NOW - timedelta(minutes=1))
    smtp_sink.refuse_next(REFUSED)
    run_sweep(NOW)
    run_worker_process()
    delivery = _delivery()
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)
    assert smtp_sink.received == []
    return reminders


def test_failed_mail_is_listed_with_what_the_server_answered(refused_reminder, admin_client, admin):
    page = page_text(admin_client.get("/admin/mail/failed"))
    delivery = _delivery()
    assert "<strong>Reminder</strong> to" in page and ">ada@example.com</a>" in page
    assert REFUSED in page
    assert f"Key <code>{delivery.key}</code>" in page
    assert f'name="up_to" value="{delivery.id}"' in page
    assert '<a class="stat stat-alert" href="/admin/mail/failed">' in page_text(admin_client.get("/admin/"))


def test_a_retried_mail_is_sent_once_under_its_key_however_often_it_is_retried(
    refused_reminder, smtp_sink, app, admin_client, admin, run_worker_process
):
    delivery = _delivery()
    set_admin(None, make_user("linus@example.com"), True)
    other_admin = app.test_client()  # a second admin, at the same moment
    assert AuthActions(other_admin).login("linus@example.com").status_code == 303

    first = admin_client.post(f"/admin/mail/failed/{delivery.id}/retry")
    second = other_admin.post(f"/admin/mail/failed/{delivery.id}/retry")
    assert first.status_code == 303
    assert second.status_code == 409 and NO_LONGER_FAILED in page_text(second)
    retried = _delivery()
    assert (retried.state, retried.attempts, retried.key) == (DeliveryState.PENDING, 0, delivery.key)

    run_worker_process()  # the hand-out the retry asked for, then the send job
    assert_received_exactly(smtp_sink, reminder_ids(refused_reminder))
    assert _delivery().state == DeliveryState.SENT

    assert admin_client.post(f"/admin/mail/failed/{delivery.id}/retry").status_code == 409
    run_sweep(NOW)  # planning again plans nothing new: the key is taken
    run_worker_process()
    assert_received_exactly(smtp_sink, reminder_ids(refused_reminder))
    assert count(Delivery, Delivery.kind == "reminder") == 1
    assert _audited() == [("retry_mail", "ada@example.com", f"reminder mail {delivery.key}")]


def test_a_retry_is_on_the_recipients_admin_page(refused_reminder, admin_client, admin):
    delivery = _delivery()
    admin_client.post(f"/admin/mail/failed/{delivery.id}/retry")
    page = page_text(admin_client.get(f"/admin/users/{delivery.user_id}"))
    assert "<strong>Retried a failed mail</strong>" in page
    assert f"reminder mail {delivery.key}" in page


def test_a_discarded_mail_is_never_sent(refused_reminder, smtp_sink, admin_client, admin, run_worker_process):
    delivery = _delivery()
    response = admin_client.post(f"/admin/mail/failed/{delivery.id}/discard", headers=HTMX)
    assert "The reminder mail to ada@example.com is discarded: it will not be sent." in page_text(response)
    assert "No failed mail." in page_text(response)
    assert admin_client.post(f"/admin/mail/failed/{delivery.id}/retry").status_code == 409

    run_sweep(NOW)
    run_worker_process()
    assert smtp_sink.received == []
    assert _delivery().state == DeliveryState.DISCARDED
    assert [action for action, _, _ in _audited()] == ["discard_mail"]


def test_an_unknown_mail_is_a_404(admin_client, admin):
    assert admin_client.post("/admin/mail/failed/12345/retry").status_code == 404
    assert admin_client.post("/admin/mail/failed/12345/discard").status_code == 404


def _failed_mail(user, how_many: int) -> list[Delivery]:
    rows = [
        Delivery(
            key=f"test:{token_hex(6)}",
            user_id=user.id,
            kind="overdue",
            state=DeliveryState.FAILED,
            attempts=6,
            last_error=f"421 4.7.0 Try again later ({n})",
        )
        for n in range(how_many)
    ]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def test_retry_all_takes_the_failed_mail_the_page_showed_not_what_failed_since(app, admin_client, admin):
    ada = make_user()
    shown = _failed_mail(ada, 2)
    page = page_text(admin_client.get("/admin/mail/failed"))
    assert "2 failed" in page
    [failed_since] = _failed_mail(ada, 1)

    response = admin_client.post("/admin/mail/failed/retry-all", data={"up_to": shown[-1].id}, headers=HTMX)
    assert "2 failed mails on their way again." in page_text(response)
    db.session.expire_all()
    assert [db.session.get(Delivery, row.id).state for row in shown] == [DeliveryState.PENDING] * 2
    assert db.session.get(Delivery, failed_since.id).state == DeliveryState.FAILED

    response = admin_client.post("/admin/mail/failed/discard-all", data={"up_to": failed_since.id})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Delivery, failed_since.id).state == DeliveryState.DISCARDED
    assert [db.session.get(Delivery, row.id).state for row in shown] == [DeliveryState.PENDING] * 2
    assert _audited() == [("retry_all_mail", "2 failed mails", ""), ("discard_all_mail", "1 failed mail", "")]


def test_retry_all_without_the_pages_mark_is_refused(admin_client, admin):
    assert admin_client.post("/admin/mail/failed/retry-all").status_code == 400
    assert admin_client.post("/admin/mail/failed/discard-all", data={"up_to": "x"}).status_code == 400


@pytest.fixture
def short_pages(app_config):
    app_config["ADMIN_PAGE_SIZE"] = 2


def test_failed_mail_is_listed_newest_first_a_page_at_a_time(short_pages, app, admin_client, admin):
    rows = _failed_mail(make_user(), 3)
    first = page_text(admin_client.get("/admin/mail/failed"))
    assert first.index("(2)") < first.index("(1)") and "(0)" not in first
    assert f'href="/admin/mail/failed?before={rows[1].id}"' in first
    more = admin_client.get(f"/admin/mail/failed?before={rows[1].id}", headers=HTMX)
    assert "(0)" in page_text(more) and "<h1>" not in page_text(more)
    assert "More failed mail" not in page_text(more)
