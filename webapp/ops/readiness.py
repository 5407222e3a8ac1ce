"""What /readyz checks: the database and Redis answer, the scheduler ticks, a worker is alive.

Each check gives "ok" or a few words on what is wrong; the error itself goes to the log, not into
the answer (anyone may ask). Redis is asked over the app's short-timeout connection, so a hung
Redis makes the answer a 503 within REDIS_SOCKET_TIMEOUT instead of hanging the probe.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from rq import Worker
from sqlalchemy import text

from jobs.schedule import scheduler_is_ticking

from ..extensions import db, queues

OK = "ok"
NO_ANSWER = "does not answer"

log = logging.getLogger(__name__)


def check() -> dict[str, str]:
    outcomes = {"database": _outcome("database", _database), "redis": _outcome("redis", _redis)}
    if outcomes["redis"] == OK:
        outcomes["scheduler"] = _outcome("scheduler", _scheduler)
        outcomes["worker"] = _outcome("worker", _worker)
    else:
        outcomes["scheduler"] = outcomes["worker"] = "unknown: Redis does not answer"
    return outcomes


def _outcome(name: str, check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as error:  # a probe answers whatever fails, and says what did
        log.warning("not ready: the %s check failed: %r", name, error)
        return NO_ANSWER


def _database() -> str:
    db.session.execute(text("SELECT 1"))
    return OK


def _redis() -> str:
    queues.connection.ping()
    return OK


def _scheduler() -> str:
    return OK if scheduler_is_ticking(queues.connection) else "not ticking: is `flask scheduler` running?"


def _worker() -> str:
    return OK if Worker.all(connection=queues.connection) else "no worker alive: is `flask worker` running?"
