"""The health facts: the database and Redis answer, the scheduler ticks, a worker is alive, and
mail is not failing. /readyz answers them, and the alerts (alerts.py) mail admins and show the
admin pages' banner from the same facts.

Each check gives "ok" or a few words on what is wrong; the error itself goes to the log, not into
the answer (anyone may ask). Redis is asked over the app's short-timeout connection, so a hung
Redis makes the answer a 503 within REDIS_SOCKET_TIMEOUT instead of hanging the probe.
Failed mail is reported but does not make the app unready: it cannot serve pages any better
for being taken out of a load balancer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flask import current_app
from rq import Worker
from sqlalchemy import func, select, text

from jobs.schedule import seconds_since_tick

from ..extensions import db, queues
from ..reminders.models import Delivery, DeliveryState
from ..timezones import now_utc

OK = "ok"
NO_ANSWER = "does not answer"
UNKNOWN = "unknown: Redis does not answer"
NEEDED_TO_SERVE = ("database", "redis", "scheduler", "worker")

log = logging.getLogger(__name__)


def check() -> dict[str, str]:
    outcomes = {"database": _outcome("database", _database), "redis": _outcome("redis", _redis)}
    if outcomes["redis"] == OK:
        outcomes["scheduler"] = _outcome("scheduler", _scheduler)
        outcomes["worker"] = _outcome("worker", _worker)
    else:
        outcomes["scheduler"] = outcomes["worker"] = UNKNOWN
    if outcomes["database"] == OK:
        outcomes["deliveries"] = _outcome("deliveries", _deliveries)
    return outcomes


def is_ready(outcomes: dict[str, str]) -> bool:
    return all(outcomes[name] == OK for name in NEEDED_TO_SERVE)


def _outcome(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as error:  # a probe answers whatever fails, and says what did
        log.warning("not ready: the %s check failed: %r", name, error)
        db.session.rollback()
        return NO_ANSWER


def _database() -> str:
    db.session.execute(text("SELECT 1"))
    return OK


def _redis() -> str:
    queues.connection.ping()
    return OK


def _scheduler() -> str:
    silent_for = seconds_since_tick(queues.connection)
    if silent_for is None:
        return "not ticking: is `flask scheduler` running?"
    if silent_for > current_app.config["SCHEDULER_SILENT_SECONDS"]:
        return f"not ticking for {_duration(silent_for)}: is `flask scheduler` running?"
    return OK


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _worker() -> str:
    return OK if Worker.all(connection=queues.connection) else "no worker alive: is `flask worker` running?"


def _deliveries() -> str:
    config = current_app.config
    hours = config["ALERT_FAILED_WINDOW_HOURS"]
    failed = db.session.scalar(
        select(func.count()).where(
            Delivery.state == DeliveryState.FAILED, Delivery.created_at > now_utc() - timedelta(hours=hours)
        )
    )
    if failed >= config["ALERT_FAILED_DELIVERIES"]:
        return f"{failed} mails failed (of those planned in the last {hours:g} hours)"
    return OK
