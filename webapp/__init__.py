"""Tasklane: the application factory."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event

from . import database, limits, logs, redis_clients, replica
from .config import BASE_DIR, INSTANCE_DIR, load_config
from .extensions import cache as cache_extension  # `cache` here would be shadowed by the webapp.cache module
from .extensions import csrf, db, limiter, login_manager, migrate, queues
from .extensions import htmx as htmx_extension  # `htmx` here would be shadowed by the webapp.htmx module
from .proxies import trust_proxies


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config.from_object(load_config())
    if config:
        app.config.update(config)
    logs.init_app(app)
    redis_clients.init_app(app)  # before the cache, the limits and the queues: they use its pool

    database.configure(app)
    db.init_app(app)
    with app.app_context():
        _tune_sqlite(db.engine)
        database.init_app(app)
        replica.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    csrf.init_app(app)
    cache_extension.init_app(app)
    limits.before_flask_limiter(app)
    limiter.init_app(app)
    limits.init_app(app)
    htmx_extension.init_app(app)
    queues.init_app(app)

    from . import assets, cache, commands, errors, formatting, headers, input_checks, metrics, models  # noqa: F401  (models registers the tables)
    from .admin import jobs_dashboard
    from .admin.views import bp as admin
    from .agenda.views import bp as agenda
    from .auth.views import bp as auth
    from .dashboard.views import bp as dashboard
    from .ops.views import bp as ops
    from .projects.views import bp as projects
    from .reminders.views import bp as reminders
    from .tasks.views import bp as tasks
    from .trash.views import bp as trash

    for blueprint in (admin, agenda, auth, dashboard, ops, projects, reminders, tasks, trash):
        app.register_blueprint(blueprint)
    cache.init_app(app)
    assets.init_app(app)
    headers.init_app(app)
    jobs_dashboard.mount(app)  # after the headers: its pages keep their own Content-Security-Policy
    errors.register(app)
    input_checks.register(app)
    formatting.register(app)
    commands.register(app)
    metrics.init_app(app)
    _wrap_wsgi_app(app)
    return app


def _wrap_wsgi_app(app: Flask) -> None:
    """Cache hits are answered before Flask; first, the client's address, scheme and host are
    taken from the proxies PROXY_HOPS trusts, or from the connection (webapp/proxies.py), and
    both see them; every request is counted and timed, and outermost, logged with its id
    (webapp/logs.py)."""
    from .cache_hits import ServeCacheHits
    from .metrics import CountRequests

    app.wsgi_app = ServeCacheHits(app, app.wsgi_app)
    app.wsgi_app = trust_proxies(app.wsgi_app, app.config["PROXY_HOPS"])
    app.wsgi_app = CountRequests(app.wsgi_app)
    logs.wrap(app)


def _tune_sqlite(engine) -> None:
    """Web, worker and scheduler processes write the same SQLite file: WAL lets readers go on
    while one writes, the busy timeout makes writers queue instead of failing, and foreign keys
    make ON DELETE CASCADE hold as it does on PostgreSQL."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=15000", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
