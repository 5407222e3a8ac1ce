"""Tasklane: the application factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import BASE_DIR, INSTANCE_DIR, load_config
from .extensions import cache, csrf, db, limiter, login_manager, migrate, queues
from .extensions import htmx as htmx_extension  # `htmx` here would be shadowed by the webapp.htmx module


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(load_config())
    if config:
        app.config.update(config)
    _configure_redis_backed_extensions(app)
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    cache.init_app(app)
    limiter.init_app(app)
    htmx_extension.init_app(app)
    queues.init_app(app)

    from . import auth, commands, dashboard, errors, formatting, models, projects, tasks  # noqa: F401

    for feature in (auth, dashboard, projects, tasks):
        app.register_blueprint(feature.bp)
    errors.register(app)
    formatting.register(app)
    commands.register(app)
    return app


def _configure_redis_backed_extensions(app: Flask) -> None:
    """Cache and rate limits share Redis; without REDIS_URL they fall back to process memory."""
    url = app.config.get("REDIS_URL")
    timeout = app.config["REDIS_SOCKET_TIMEOUT"]
    if url:
        app.config.setdefault("CACHE_TYPE", "RedisCache")
        app.config.setdefault("CACHE_REDIS_URL", url)
        app.config.setdefault("CACHE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout})
        app.config.setdefault("RATELIMIT_STORAGE_URI", url)
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        )
    else:
        app.config.setdefault("CACHE_TYPE", "SimpleCache")
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
