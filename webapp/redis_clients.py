"""Where the app's Redis connections come from: one pool per process, made from the settings, for
the cache, the cached sessions, the rate limits and the job queues alike.

Redis is named one of two ways (README, "Redis in production"):

- `REDIS_URL`: `redis://[:password@]host:port/db`; `rediss://…` for TLS (a managed Redis),
  checked against the system's CAs or `REDIS_TLS_CA_CERTS`, with a client certificate from
  `REDIS_TLS_CERTFILE` and `REDIS_TLS_KEYFILE` when the server asks for one; or
  `unix:///path/redis.sock?db=N`.
- `REDIS_SENTINELS` (`host:port,host:port,…`) and `REDIS_SENTINEL_MASTER` (the name the Sentinels
  know the primary by), with `REDIS_PASSWORD` for Redis, `REDIS_SENTINEL_PASSWORD` for the
  Sentinels and `REDIS_DB`. Each new connection asks the Sentinels which server is the primary:
  after a failover, the connections to the old one fail once (a write to a demoted primary too)
  and the next ones go to the new primary.

Every connection of the shared pool gives up after REDIS_SOCKET_TIMEOUT (a hung Redis must not
hang requests). Worker and scheduler processes wait on Redis by design (BLPOP): they take a
client of their own pool without that timeout (`blocking_client`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import redis
from flask import Flask
from flask_caching.backends.rediscache import RedisCache
from redis.sentinel import Sentinel, SentinelConnectionPool

POOL = "tasklane_redis_pool"
# For Flask-Limiter, which wants a Redis URL and is handed the shared pool instead: the address
# in it is never used.
SHARED_POOL_URL = "redis://shared-pool"


@dataclass(frozen=True)
class RedisSettings:
    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    db: int = 0
    tls_ca_certs: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> RedisSettings | None:
        """The settings, or None when no Redis is named (each process then keeps its own)."""
        if sentinels := config.get("REDIS_SENTINELS"):
            if not config.get("REDIS_SENTINEL_MASTER"):
                raise ValueError("REDIS_SENTINELS is set: REDIS_SENTINEL_MASTER must name the primary")
            return cls(
                sentinels=parse_sentinels(sentinels),
                master=config["REDIS_SENTINEL_MASTER"],
                password=config.get("REDIS_PASSWORD"),
                sentinel_password=config.get("REDIS_SENTINEL_PASSWORD"),
                db=int(config.get("REDIS_DB") or 0),
            )
        if url := config.get("REDIS_URL"):
            return cls(
                url=url,
                tls_ca_certs=config.get("REDIS_TLS_CA_CERTS"),
                tls_certfile=config.get("REDIS_TLS_CERTFILE"),
                tls_keyfile=config.get("REDIS_TLS_KEYFILE"),
            )
        return None

    def as_url(self) -> str:
        """The same Redis as one URL, for a library that takes nothing else (rq-dashboard)."""
        if self.url:
            return self.url
        password = f":{quote(self.password, safe='')}@" if self.password else ""
        hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"redis+sentinel://{password}{hosts}/{self.master}/{self.db}"

    def pool(self, socket_timeout: float | None) -> redis.ConnectionPool:
        timeouts = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_timeout}
        if self.sentinels:
            sentinel = Sentinel(
                self.sentinels,
                sentinel_kwargs={"password": self.sentinel_password, **timeouts},
                **timeouts,
            )
            return SentinelConnectionPool(
                self.master, sentinel, password=self.password, db=self.db, **timeouts
            )
        tls = {}
        if self.url.startswith("rediss://"):
            tls = {"ssl_cert_reqs": "required", "ssl_ca_certs": self.tls_ca_certs}
            tls |= {"ssl_certfile": self.tls_certfile, "ssl_keyfile": self.tls_keyfile}
        return redis.ConnectionPool.from_url(self.url, **timeouts, **tls)


def parse_sentinels(value: str) -> tuple[tuple[str, int], ...]:
    """`host:port,host:port` as (host, port) pairs."""
    pairs = []
    for each in value.split(","):
        host, _, port = each.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_SENTINELS: {each.strip()!r} is not host:port")
        pairs.append((host.strip("[]"), int(port)))
    return tuple(pairs)


def init_app(app: Flask) -> None:
    """Make the shared pool (no connection is opened yet) and point the cache and the rate limits
    at it; without Redis settings they keep to process memory."""
    settings = RedisSettings.from_config(app.config)
    if settings is None:
        app.config.setdefault("CACHE_TYPE", "SimpleCache")
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
        return
    pool = settings.pool(app.config["REDIS_SOCKET_TIMEOUT"])
    app.extensions[POOL] = (settings, pool)
    app.config.setdefault("CACHE_TYPE", f"{__name__}.SharedPoolCache")
    app.config.setdefault("RATELIMIT_STORAGE_URI", SHARED_POOL_URL)
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"connection_pool": pool})


def configured(app: Flask) -> bool:
    return POOL in app.extensions


def shared_client(app: Flask) -> redis.Redis | None:
    """A client of the shared pool (short timeouts); None when no Redis is configured."""
    if not configured(app):
        return None
    _, pool = app.extensions[POOL]
    return redis.Redis(connection_pool=pool)


def blocking_client(app: Flask) -> redis.Redis | None:
    """For a process that waits on Redis (a worker's BLPOP): a pool of its own, no socket timeout."""
    if not configured(app):
        return None
    settings, _ = app.extensions[POOL]
    return redis.Redis(connection_pool=settings.pool(socket_timeout=None))


def settings_of(app: Flask) -> RedisSettings:
    settings, _ = app.extensions[POOL]
    return settings


def cache_and_limits_share_redis(app: Flask) -> bool:
    """The cache and the rate limits both use the shared pool (cache_hits counts reads then)."""
    if not configured(app):
        return False
    _, pool = app.extensions[POOL]
    options = app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
    return (
        app.config.get("CACHE_TYPE") == f"{__name__}.SharedPoolCache"
        and options.get("connection_pool") is pool
    )


class SharedPoolCache(RedisCache):
    """Flask-Caching's Redis cache on the shared pool (CACHE_TYPE names it)."""

    @classmethod
    def factory(cls, app: Flask, config: dict, args: list, kwargs: dict) -> SharedPoolCache:
        kwargs["key_prefix"] = config.get("CACHE_KEY_PREFIX")
        return cls(shared_client(app), *args, **kwargs)
