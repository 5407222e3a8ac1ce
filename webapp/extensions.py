"""Every Flask extension, created once here and bound to the app in create_app()."""

from __future__ import annotations

import redis
from flask import Flask
from flask_caching import Cache
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from rq import Queue
from sqlalchemy import MetaData

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
cache = Cache()
limiter = Limiter(key_func=get_remote_address)
htmx = HTMX()


class RedisQueues:
    """The Redis connection the job queues use, made from REDIS_URL at init_app time."""

    def __init__(self) -> None:
        self._connection: redis.Redis | None = None

    def init_app(self, app: Flask) -> None:
        url = app.config.get("REDIS_URL")
        self._connection = redis.Redis.from_url(url) if url else None
        app.extensions["redis_queues"] = self

    @property
    def connection(self) -> redis.Redis:
        if self._connection is None:
            raise RuntimeError("REDIS_URL is not set: start the app with `make run`, which provides one")
        return self._connection

    def queue(self, name: str = "default") -> Queue:
        return Queue(name, connection=self.connection)


queues = RedisQueues()
