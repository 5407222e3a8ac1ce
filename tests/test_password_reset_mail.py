"""The password-reset mail rides the delivery pipeline: durable, retried, never lost, and asking
for one answers the same way for any address whatever state Redis is in."""

from __future__ import annotations

import logging
import re
import socket
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bench.smtp_sink import free_port
from jobs.reminders import run_sweep
from tests.conftest import FreshContextClient
from tests.support import RESET_SENT, ask_for_reset, page_without_tokens
from webapp import create_app
from webapp.extensions import db
from webapp.reminders.kinds import MailKind
from webapp.reminders.models import Delivery, DeliveryState
from webapp.timezones import now_utc

LINK = re.compile(r"http://localhost(/reset/[\w-]+)")


def _reset_deliveries() -> list[Delivery]:
    db.session.expire_all()
    return list(db.session.scalars(select(Delivery).where(Delivery.kind == MailKind.PASSWORD_RESET.value)))


def test_a_reset_asked_for_while_the_mail_server_is_down_arrives_once_it_is_back(
    smtp_sink, app, client, user, run_jobs
):
    working_mail_url = app.config["MAIL_URL"]
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there

    assert RESET_SENT in ask_for_reset(client, "ada@example.com").get_data(as_text=True)
    run_jobs()
    [delivery] = _reset_deliveries()
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert "ConnectionRefused" in delivery.last_error

    app.config["MAIL_URL"] = working_mail_url  # the mail server is back …
    db.session.execute(update(Delivery).values(not_before=now_utc() - timedelta(seconds=1)))
    db.session.commit()  # … and the retry's backoff has passed
    run_sweep()
    run_jobs()

    [mail] = smtp_sink.received
    assert mail.to == "ada@example.com" and mail.subject == "Reset your Tasklane password"
    path = LINK.search(mail.text).group(1)
    assert (
        "Choose a new password" in client.get(path).get_data(as_text=True)
        or client.get(path).status_code == 200
    )
    assert _reset_deliveries()[0].state == DeliveryState.SENT


def test_a_retried_reset_mail_carries_the_same_link_and_message_id(smtp_sink, app, client, user, run_jobs):
    smtp_sink.refuse_next("451 4.3.0 Try again later")
    ask_for_reset(client, "ada@example.com")
    run_jobs()
    db.session.execute(update(Delivery).values(not_before=now_utc() - timedelta(seconds=1)))
    db.session.commit()
    run_sweep()
    run_jobs()

    [mail] = smtp_sink.received
    [delivery] = _reset_deliveries()
    assert delivery.attempts == 1 and delivery.message_id == mail.message_id
    assert client.get(LINK.search(mail.text).group(1)).status_code == 200


@pytest.fixture
def hung_redis_url():
    """A Redis address that accepts connections and never answers (a hung server)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


@pytest.fixture(params=["down", "hung"])
def web_without_redis(request, app_config, app, hung_redis_url):
    """A second web process of the same site whose Redis is down (nothing listens) or hung."""
    url = f"redis://127.0.0.1:{free_port()}/0" if request.param == "down" else hung_redis_url
    web = create_app({**app_config, "REDIS_URL": url})
    web.test_client_class = FreshContextClient
    return web.test_client()


def test_with_redis_down_or_hung_reset_answers_alike_and_the_mail_still_goes(
    smtp_sink, app, user, web_without_redis, run_jobs, caplog
):
    caplog.set_level(logging.WARNING)
    unknown = ask_for_reset(web_without_redis, "nobody@example.com")
    known = ask_for_reset(web_without_redis, "ada@example.com")

    assert unknown.status_code == known.status_code == 200
    assert page_without_tokens(unknown) == page_without_tokens(known)
    assert RESET_SENT in known.get_data(as_text=True)
    assert any("the sweep will" in record.getMessage() for record in caplog.records)

    run_sweep()  # the next sweep, on a worker that reaches Redis, hands it out
    run_jobs()
    [mail] = smtp_sink.received
    assert mail.to == "ada@example.com"
    assert [d.user_id for d in _reset_deliveries()] == [user.id]
