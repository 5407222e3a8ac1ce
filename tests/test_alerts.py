"""Alerts as admins meet them: a red banner on every admin page and one mail when something
breaks (the scheduler stops ticking, no worker is alive, mail fails past the threshold), one more
when it is ok again; /readyz says the same. Real scheduler and worker processes, real SMTP."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from rq import Worker
from sqlalchemy import select, update

from jobs.schedule import TICK_KEY
from tests.conftest import ROOT, worker_command
from tests.support import WAIT, count, page_text, wait_until
from webapp.extensions import db, queues
from webapp.ops.readiness import OK
from webapp.reminders.kinds import MailKind
from webapp.reminders.models import Delivery, DeliveryState
from webapp.timezones import now_utc

SILENT = 8  # seconds without a tick that make the test's scheduler "not ticking"


def alert_mails(check: str) -> list[str]:
    keys = select(Delivery.key).where(
        Delivery.kind == MailKind.OPS_ALERT.value, Delivery.key.contains(f":{check}:")
    )
    return sorted(
        state for key in db.session.scalars(keys) for state in ("raised", "cleared") if f":{state}:" in key
    )


def subjects(sink, check: str) -> list[str]:
    return [mail.subject for mail in sink.received if f" {check} " in mail.subject]


def scheduler_just_ticked() -> None:
    queues.connection.set(TICK_KEY, time.time())


def fail_mail(user, how_many: int, *, hours_ago: float = 0) -> None:
    planned = now_utc() - timedelta(hours=hours_ago)
    for _ in range(how_many):
        db.session.add(
            Delivery(
                key=f"test-failed:{secrets.token_hex(4)}",
                user_id=user.id,
                kind=MailKind.REMINDER.value,
                state=DeliveryState.FAILED,
                last_error="550 5.1.1 No such user",
                created_at=planned,
            )
        )
    db.session.commit()


@pytest.fixture(autouse=True)
def alert_mails_on(app_config) -> None:
    app_config.update(ALERT_MAILS=True, ALERT_AFTER_SECONDS=0)


@pytest.fixture
def threshold(app_config) -> int:
    app_config["ALERT_FAILED_DELIVERIES"] = 3
    return 3


def test_failed_mail_past_the_threshold_shows_a_banner_and_mails_the_admins_once(
    threshold, smtp_sink, app, admin, admin_client, user, run_jobs
):
    scheduler_just_ticked()
    fail_mail(user, threshold - 1)
    fail_mail(user, 5, hours_ago=app.config["ALERT_FAILED_WINDOW_HOURS"] + 1)  # too old to count
    assert "mails failed" not in page_text(admin_client.get("/admin/users"))
    assert alert_mails("deliveries") == []

    fail_mail(user, 1)
    for page in ("/admin/users", "/admin/audit", f"/admin/users/{user.id}"):
        text = page_text(admin_client.get(page))
        assert "Tasklane needs a look" in text and "3 mails failed" in text, page
    assert admin_client.get("/readyz").get_json()["checks"]["deliveries"].startswith("3 mails failed")
    assert alert_mails("deliveries") == ["raised"], "one mail per incident, however often pages ask"
    run_jobs()
    [mail] = [each for each in smtp_sink.received if "deliveries" in each.subject]
    assert mail.to == admin.email and mail.subject.startswith("Tasklane alert: deliveries 3 mails failed")
    assert user.email not in {each.to for each in smtp_sink.received}, "only admins are alerted"

    db.session.execute(update(Delivery).where(Delivery.state == DeliveryState.FAILED).values(state="sent"))
    db.session.commit()
    assert "3 mails failed" not in page_text(admin_client.get("/admin/users"))
    assert alert_mails("deliveries") == ["cleared", "raised"]
    run_jobs()
    assert subjects(smtp_sink, "deliveries")[-1] == "Tasklane recovered: deliveries ok again"


def test_the_banner_is_for_admin_pages_only(threshold, app, admin, admin_client, user, client):
    fail_mail(user, threshold)
    assert "Tasklane needs a look" in page_text(admin_client.get("/admin/users"))
    assert "Tasklane needs a look" not in page_text(client.get("/tasks"))
    assert client.get("/admin/users").status_code == 403


def test_with_no_worker_alive_the_banner_and_readyz_say_so_and_the_mail_goes_when_one_starts(
    smtp_sink, app, admin, admin_client, run_worker_process
):
    scheduler_just_ticked()
    ready = admin_client.get("/readyz")
    assert ready.status_code == 503 and "no worker alive" in ready.get_json()["checks"]["worker"]
    assert "no worker alive" in page_text(admin_client.get("/admin/users"))
    assert alert_mails("worker") == ["raised"]
    assert smtp_sink.received == [], "nobody can send it yet"

    run_worker_process()  # a worker starts: its first review finds itself alive
    assert subjects(smtp_sink, "worker") == [
        "Tasklane alert: worker no worker alive: is `flask worker` running?",
        "Tasklane recovered: worker ok again",
    ]
    assert alert_mails("worker") == ["cleared", "raised"]


def test_a_problem_shows_at_once_but_is_mailed_only_once_it_has_lasted(app, admin, admin_client):
    app.config["ALERT_AFTER_SECONDS"] = 60
    scheduler_just_ticked()
    assert "no worker alive" in page_text(admin_client.get("/admin/users"))
    assert admin_client.get("/readyz").status_code == 503
    assert alert_mails("worker") == [], "a worker restarting in a deploy is no incident"

    app.config["ALERT_AFTER_SECONDS"] = 0
    admin_client.get("/admin/users")
    assert alert_mails("worker") == ["raised"]


@pytest.fixture
def drill_settings(app_config, worker_env_overrides) -> None:
    app_config["SCHEDULER_SILENT_SECONDS"] = SILENT
    worker_env_overrides.update(
        SCHEDULER_SILENT_SECONDS=str(SILENT),
        ALERT_CHECK_SECONDS="0.5",
        ALERT_AFTER_SECONDS="0",
        WORKER_TTL_SECONDS="16",  # an idle worker looks up every second (its heartbeat)
    )


def _start_scheduler(env) -> subprocess.Popen:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--interval", "1"]
    return subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=WAIT)


def test_alert_drill_the_scheduler_stops_and_starts_again(
    drill_settings, smtp_sink, app, admin, admin_client, worker_env
):
    scheduler = _start_scheduler(worker_env)  # ticking before the worker's first review
    wait_until(lambda: queues.connection.exists(TICK_KEY), "the first tick", lambda: scheduler.poll() is None)
    worker = subprocess.Popen(
        worker_command(burst=False), env=worker_env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        alive = lambda: worker.poll() is None  # noqa: E731
        wait_until(lambda: Worker.all(connection=queues.connection), "a worker", alive)
        assert admin_client.get("/readyz").status_code == 200

        _stop(scheduler)
        wait_until(
            lambda: any("scheduler" in each for each in subjects(smtp_sink, "scheduler")), "alert mail", alive
        )
        ready = admin_client.get("/readyz")
        assert ready.status_code == 503 and "not ticking" in ready.get_json()["checks"]["scheduler"]
        assert "not ticking" in page_text(admin_client.get("/admin/users"))

        scheduler = _start_scheduler(worker_env)
        wait_until(lambda: len(subjects(smtp_sink, "scheduler")) == 2, "cleared mail", alive)
        assert admin_client.get("/readyz").get_json()["checks"]["scheduler"] == OK
        assert "Tasklane needs a look" not in page_text(admin_client.get("/admin/users"))
        assert subjects(smtp_sink, "scheduler")[0].startswith("Tasklane alert: scheduler not ticking for")
        assert subjects(smtp_sink, "scheduler")[1] == "Tasklane recovered: scheduler ok again"
        assert alert_mails("scheduler") == ["cleared", "raised"]
        assert [mail.to for mail in smtp_sink.received] == [admin.email] * 2
    finally:
        _stop(scheduler)
        _stop(worker)
    assert (
        count(Delivery, Delivery.kind == MailKind.OPS_ALERT.value, Delivery.state != DeliveryState.SENT) == 0
    )
