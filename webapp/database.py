"""The database connections: pool and timeouts on PostgreSQL, and a request that outlives a
database outage.

- Each process pools DATABASE_POOL_SIZE connections (+ DATABASE_MAX_OVERFLOW at peaks) and waits
  at most DATABASE_POOL_TIMEOUT for a free one; a connection is recycled after
  DATABASE_POOL_RECYCLE and pinged before each use (`pool_pre_ping`).
- Connecting gives up after DATABASE_CONNECT_TIMEOUT; the server cancels a statement after
  DATABASE_STATEMENT_TIMEOUT. A server that answers nothing at all (frozen, or the network cut)
  cannot cancel anything, so the client waits for it at most DATABASE_CONNECT_TIMEOUT for the
  ping and the statement timeout plus that for a statement, then drops the connection
  (`_GuardedConnection`).
- All of those failures are `DATABASE_DOWN` errors: the user gets a 503 page (webapp/errors.py)
  with Retry-After, and the next request tries again: the app needs no restart.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from flask import Flask
from psycopg.errors import _WaitTimeout
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .extensions import db

log = logging.getLogger(__name__)

# What a request meets while the database is down, frozen, too slow or its pool exhausted.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


class _GuardedConnection(psycopg.Connection):
    """A psycopg connection that waits for the server at most `limit` seconds (None: forever),
    then closes itself: the pool takes a closed connection for a lost one and replaces it."""

    limit: float | None = None

    def wait(self, gen, *args, timeout: float | None = None, **kwargs) -> Any:
        if timeout is not None or self.limit is None:
            return super().wait(gen, *args, timeout=timeout, **kwargs)
        try:
            return super().wait(gen, *args, timeout=self.limit, **kwargs)
        except _WaitTimeout:
            self.pgconn.finish()
            raise psycopg.OperationalError(f"the database did not answer within {self.limit:g} s") from None


def configure(app: Flask) -> None:
    """Before `db.init_app`: PostgreSQL gets its pool and timeouts; SQLite is left as is."""
    config = app.config
    if config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        options = config["SQLALCHEMY_ENGINE_OPTIONS"]
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {**engine_options(config), **options}


def init_app(app: Flask) -> None:
    """After `db.init_app` (in an app context): the timeouts the server cannot enforce, and a
    session teardown that runs before Flask-SQLAlchemy's (teardowns run in reverse order)."""
    guard(db.engine, app.config)
    app.teardown_appcontext(_end_session)


def engine_options(config) -> dict[str, Any]:
    statement_ms = int(config["DATABASE_STATEMENT_TIMEOUT"] * 1000)
    return {
        "pool_pre_ping": True,
        "pool_size": config["DATABASE_POOL_SIZE"],
        "max_overflow": config["DATABASE_MAX_OVERFLOW"],
        "pool_timeout": config["DATABASE_POOL_TIMEOUT"],
        "pool_recycle": config["DATABASE_POOL_RECYCLE"],
        "connect_args": {
            "connect_timeout": max(1, round(config["DATABASE_CONNECT_TIMEOUT"])),  # libpq: whole seconds
            "options": f"-c statement_timeout={statement_ms}",
        },
    }


def guard(engine: Engine, config) -> Engine:
    """Bound every wait for a PostgreSQL server of `engine` (see `_GuardedConnection`)."""
    if engine.dialect.name != "postgresql":
        return engine
    ping_limit = config["DATABASE_CONNECT_TIMEOUT"]
    statement = config["DATABASE_STATEMENT_TIMEOUT"]
    statement_limit = statement + ping_limit if statement > 0 else None

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        connection = _GuardedConnection.connect(*cargs, **cparams)
        connection.limit = ping_limit
        return connection

    @event.listens_for(engine, "checkout")
    def _in_use(dbapi_connection, _record, _proxy):  # the ping is behind it
        dbapi_connection.limit = statement_limit

    @event.listens_for(engine, "checkin")
    def _idle(dbapi_connection, _record):
        if dbapi_connection is not None:
            dbapi_connection.limit = ping_limit

    return engine


def extra_engine(app: Flask, url: str) -> Engine:
    """Another engine (the replica) with the same pool and timeouts as the app's own."""
    return guard(create_engine(url, **engine_options(app.config)), app.config)


def _end_session(_error: BaseException | None) -> None:
    """Close the request's session. Its rollback on a connection the database cut would raise
    here, after the view answered, and turn its answer (a 503 page too) into a 500: drop such a
    connection instead."""
    try:
        db.session.remove()
    except SQLAlchemyError as error:
        log.warning("dropped a database connection that could not be rolled back: %s", error)
        db.session().invalidate()
        db.session.remove()
