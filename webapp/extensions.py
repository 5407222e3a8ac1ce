"""Every Flask extension, created once here and bound to the app in create_app()."""

from __future__ import annotations

import redis
from flask import Flask, current_app
from flask_caching import Cache
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData

from . import redis_clients
from .db_session import RoutingSession
from .limits import caller, every_route_limits, note_refusal
from .queueing import JsonQueue

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING_CONVENTION), session_options={"class_": RoutingSession}
)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
cache = Cache()
limiter = Limiter(key_func=caller, application_limits=every_route_limits(), on_breach=note_refusal)
htmx = HTMX()


NO_REDIS = "REDIS_URL (or REDIS_SENTINELS) is not set: start the app with `make run`, which provides one"


class RedisQueues:
    """The Redis connection the job queues use: a client of the app's shared pool
    (webapp/redis_clients.py), made at init_app time and kept on the app.

    Enqueuing fails fast on a hung Redis (REDIS_SOCKET_TIMEOUT); worker and scheduler processes
    block on Redis by design and take a connection without that timeout (`long_connection`)."""

    def init_app(self, app: Flask) -> None:
        app.extensions["redis_queues"] = redis_clients.shared_client(app)

    @property
    def connection(self) -> redis.Redis:
        if (client := current_app.extensions["redis_queues"]) is None:
            raise RuntimeError(NO_REDIS)
        return client

    def long_connection(self) -> redis.Redis:
        """For processes that wait on Redis (BLPOP): no short socket timeout."""
        if (client := redis_clients.blocking_client(current_app)) is None:
            raise RuntimeError(NO_REDIS)
        return client

    def queue(self, name: str = "default") -> JsonQueue:
        return JsonQueue(name, connection=self.connection)


queues = RedisQueues()
