"""Reads that may be a little behind go to a streaming replica (DATABASE_REPLICA_URL); every
write, and whatever a user just wrote, is read from the primary.

- Services wrap such reads in `with reading(user):` (task lists, the dashboard, Today and
  Upcoming, the bell's count). Inside, the session sends its SELECTs to the replica; writes,
  flushes and plain SQL still go to the primary.
- Read-your-writes: after a signed-in user's request commits a change, the primary's WAL position
  (`pg_current_wal_lsn()`) is kept in Redis for READ_YOUR_WRITES_SECONDS under that user. Their
  reads go to the replica only once it has replayed that far (`pg_last_wal_replay_lsn()`), and a
  request that has written anything reads from the primary for the rest of it.
- The replica down or failing: reads go to the primary, and the replica is left alone for
  REPLICA_RETRY_SECONDS in this process. Redis not answering: the primary (a position it cannot
  tell might be missing). A position that could not be kept sends that user's reads in this
  process to the primary for READ_YOUR_WRITES_SECONDS.
- Without a replica (SQLite, or the setting unset) nothing changes: one database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import Flask, current_app, g, has_app_context, has_request_context
from redis.exceptions import RedisError
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .database import DATABASE_DOWN, extra_engine
from .db_session import READ_FROM
from .extensions import db, queues
from .models import User

log = logging.getLogger(__name__)

WROTE = "tasklane_wrote"  # Session.info: this session flushed a change
WRITERS = "tasklane_writers"  # Session.info: the signed-in users whose changes the commit makes
REPLAYED_UP_TO = text("SELECT pg_last_wal_replay_lsn() >= CAST(:position AS pg_lsn)")
WRITTEN_UP_TO = text("SELECT CAST(pg_current_wal_lsn() AS text)")


@dataclass
class _Replica:
    engine: Engine
    down_until: float = 0.0
    unrecorded: dict[int, float] = field(default_factory=dict)  # user id → primary only until


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_REPLICA_URL"]
    if not url or not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    app.extensions["tasklane_replica"] = _Replica(extra_engine(app, url))
    if not event.contains(Session, "after_flush", _note_writer):
        event.listen(Session, "after_flush", _note_writer)
        event.listen(Session, "after_commit", _keep_positions)
        event.listen(Session, "after_rollback", _forget_writers)


def _replica(app: Flask | None = None) -> _Replica | None:
    return (app or current_app).extensions.get("tasklane_replica")


@contextmanager
def reading(user: User) -> Iterator[None]:
    """Run the reads inside on the replica when it holds everything `user` wrote."""
    session = db.session()
    if READ_FROM in session.info:  # nested: the outer choice holds
        yield
        return
    replica = _replica()
    if replica is None or not _replica_may_serve(replica, session, user.id):
        yield
        return
    session.info[READ_FROM] = replica.engine
    try:
        yield
    except DATABASE_DOWN as error:
        _take_down(replica, error)
        raise
    finally:
        session.info.pop(READ_FROM, None)


def _replica_may_serve(replica: _Replica, session: Session, user_id: int) -> bool:
    now = time.monotonic()
    if now < replica.down_until or now < replica.unrecorded.get(user_id, 0.0):
        return False
    if session.info.get(WROTE) or session.new or session.dirty or session.deleted:
        return False
    try:
        position = queues.connection.get(_position_key(user_id))
    except RedisError as error:
        log.warning("reading from the primary: Redis did not answer: %s", error)
        return False
    try:
        with replica.engine.connect() as connection:
            if position is None:
                return True  # the checkout pinged it: the replica answers
            return bool(connection.scalar(REPLAYED_UP_TO, {"position": position.decode()}))
    except SQLAlchemyError as error:
        _take_down(replica, error)
        return False


def _take_down(replica: _Replica, error: Exception) -> None:
    pause = current_app.config["REPLICA_RETRY_SECONDS"]
    replica.down_until = time.monotonic() + pause
    log.warning("reading from the primary for %s s: the replica failed: %s", pause, error)


def _position_key(user_id: int) -> str:
    return f"replica:written:user:{user_id}"


def _note_writer(session: Session, _flush_context) -> None:
    session.info[WROTE] = True
    if has_request_context() and _replica() is not None:
        user = g.get("_login_user")  # Flask-Login's user of this request, if loaded: no query in a flush
        if user is not None and user.is_authenticated:
            session.info.setdefault(WRITERS, set()).add(user.id)


def _keep_positions(session: Session) -> None:
    """After the commit: how far the primary's WAL must be replayed for these users' reads."""
    user_ids = session.info.pop(WRITERS, None)
    if not user_ids or not has_app_context() or (replica := _replica()) is None:
        return
    seconds = current_app.config["READ_YOUR_WRITES_SECONDS"]
    try:
        with db.engine.connect() as connection:
            position = connection.scalar(WRITTEN_UP_TO)
        with queues.connection.pipeline() as pipeline:
            for user_id in user_ids:
                pipeline.set(_position_key(user_id), position, ex=seconds)
            pipeline.execute()
    except (SQLAlchemyError, RedisError) as error:
        log.warning("reads of users %s stay on the primary here: no write position kept: %s", user_ids, error)
        until = time.monotonic() + seconds
        replica.unrecorded.update(dict.fromkeys(user_ids, until))


def _forget_writers(session: Session) -> None:
    session.info.pop(WRITERS, None)
