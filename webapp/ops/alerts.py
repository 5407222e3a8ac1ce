"""Alerts: admins get a mail when the scheduler stops ticking, no worker is alive, or mail fails
past ALERT_FAILED_DELIVERIES, another when it is ok again, and a red banner on the admin pages
meanwhile. The facts are /readyz's (readiness.py).

Who notices: whoever asks for the facts reviews them. Each worker does every ALERT_CHECK_SECONDS
(jobs/worker.py), so a dead scheduler is noticed without it; /readyz and every admin page do
too, so a missing worker is noticed by the web (nobody else can). A review mails through the
delivery pipeline: a worker hands the mail out at once, the web asks a worker to. With no worker
alive, the "no worker" mail is planned and goes out as soon as a worker starts (its first review
hands out what is ready; the "ok again" mail follows it); the banner and /readyz say so meanwhile.
A problem is mailed once it has lasted ALERT_AFTER_SECONDS; the banner shows it at once.

One mail per incident, however many processes review at once: raising is a Redis SET NX of the
incident's start, clearing a GETDEL of it; only the process that changed the state plans the
mail, under a key unique per incident and admin. With Redis down nothing is reviewed (its facts
are unknown); /readyz says so.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable

from flask import current_app
from sqlalchemy import select

from ..extensions import db, queues
from ..models import User
from ..reminders.kinds import MailKind
from ..reminders.models import Delivery
from ..timezones import now_utc
from . import readiness

ALERTED = ("scheduler", "worker", "deliveries")
STATE_KEY = "tasklane:alert:{}"  # while raised: the incident's id and when it began
SEEN_KEY = "tasklane:alert:{}:seen"  # while a problem lasts: when a review first saw it (Unix time)

log = logging.getLogger(__name__)


def problems(outcomes: dict[str, str]) -> dict[str, str]:
    """What the admins are alerted about now: each alerted check that is known to be failing."""
    return {
        name: outcomes[name]
        for name in ALERTED
        if outcomes.get(name, readiness.OK) not in (readiness.OK, readiness.NO_ANSWER, readiness.UNKNOWN)
    }


def check_and_review(hand_out: Callable[[], object]) -> dict[str, str]:
    """The facts now, reviewed; `hand_out` is called when alert mail was planned. A failing
    review is logged: whoever asked still gets the facts."""
    outcomes = readiness.check()
    try:
        if review(outcomes):
            hand_out()
    except Exception:
        log.exception("alerts could not be reviewed")
        db.session.rollback()
    return outcomes


def review(outcomes: dict[str, str]) -> bool:
    """Raise an alert for each new problem and clear each that is over, mailing the admins once
    for each change; whether any mail was planned (the caller hands it out)."""
    if not current_app.config["ALERT_MAILS"]:
        return False
    if outcomes.get("redis") != readiness.OK or outcomes.get("database") != readiness.OK:
        return False
    failing = problems(outcomes)
    planned = False
    for name in ALERTED:
        if name in failing:
            if _lasted(name, current_app.config["ALERT_AFTER_SECONDS"]):
                planned |= _raise(name, failing[name])
        elif outcomes.get(name) == readiness.OK:
            queues.connection.delete(SEEN_KEY.format(name))
            planned |= _clear(name)
    return planned


def _lasted(name: str, seconds: float) -> bool:
    """The problem was first seen at least `seconds` ago: a worker restarting in a deploy, or a
    stack starting on an empty Redis (no tick yet), raises nothing."""
    key = SEEN_KEY.format(name)
    queues.connection.set(key, time.time(), nx=True)
    return time.time() - float(queues.connection.get(key) or 0) >= seconds


def _raise(name: str, problem: str) -> bool:
    since = now_utc().strftime("%Y-%m-%d %H:%M:%S")
    incident = f"{secrets.token_hex(4)} {since}"
    key = STATE_KEY.format(name)
    if not queues.connection.set(key, incident, nx=True):
        return False  # raised already, by this process or another
    log.error("alert raised: %s %s", name, problem)
    try:
        _mail_admins(incident, check=name, state="raised", problem=problem, since=since)
    except Exception:
        queues.connection.delete(key)  # the next review tries again
        raise
    return True


def _clear(name: str) -> bool:
    incident = queues.connection.getdel(STATE_KEY.format(name))
    if incident is None:
        return False
    log.warning("alert cleared: %s ok again", name)
    raised = incident.decode().split(" ", 1)[1]
    since = now_utc().strftime("%Y-%m-%d %H:%M:%S")
    _mail_admins(incident.decode(), check=name, state="cleared", raised=raised, since=since)
    return True


def _mail_admins(incident: str, **payload) -> None:
    admins = db.session.scalars(select(User.id).where(User.is_admin.is_(True), User.active.is_(True)))
    ident = incident.split(" ", 1)[0]
    for admin_id in admins:
        key = f"{MailKind.OPS_ALERT.value}:{payload['check']}:{ident}:{payload['state']}:{admin_id}"
        db.session.add(
            Delivery(key=key, user_id=admin_id, kind=MailKind.OPS_ALERT.value, payload=json.dumps(payload))
        )
    db.session.commit()
