"""Settings, read once from the environment, with embedded defaults for development."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("TASKLANE_INSTANCE", BASE_DIR / "instance"))


def _dev_secret_key() -> str:
    """A random key kept under instance/ so development restarts keep sessions alive."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def sqlalchemy_url(url: str) -> str:
    """A database URL as SQLAlchemy wants it: PostgreSQL through psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    return sqlalchemy_url(url) if url else f"sqlite:///{INSTANCE_DIR / 'tasklane.db'}"


def _replica_url() -> str | None:
    url = os.environ.get("DATABASE_REPLICA_URL")
    return sqlalchemy_url(url) if url else None


class Config:
    ENV_NAME = os.environ.get("TASKLANE_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY") or _dev_secret_key()
    SQLALCHEMY_DATABASE_URI = _database_url()
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # PostgreSQL only (webapp/database.py). Each process holds up to POOL_SIZE + MAX_OVERFLOW
    # connections to the primary (and as many to the replica): size them against max_connections.
    DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", "2"))
    DATABASE_MAX_OVERFLOW = int(os.environ.get("DATABASE_MAX_OVERFLOW", "2"))
    DATABASE_POOL_TIMEOUT = float(os.environ.get("DATABASE_POOL_TIMEOUT", "5"))  # wait for a free one
    DATABASE_POOL_RECYCLE = int(os.environ.get("DATABASE_POOL_RECYCLE", "1800"))
    # Connecting, and the ping before a pooled connection is used, give up after this long.
    DATABASE_CONNECT_TIMEOUT = float(os.environ.get("DATABASE_CONNECT_TIMEOUT", "3"))
    # The server cancels a statement after this long (0: never); the client gives up on a server
    # that does not answer at all (frozen, cut off) DATABASE_CONNECT_TIMEOUT later.
    DATABASE_STATEMENT_TIMEOUT = float(os.environ.get("DATABASE_STATEMENT_TIMEOUT", "15"))
    DATABASE_RETRY_AFTER = 5  # seconds: the Retry-After of the page shown while the database is down
    # A streaming replica for reads that may be a little behind (lists, dashboard, Today, the
    # bell); unset: every query goes to the primary (webapp/replica.py).
    DATABASE_REPLICA_URL = _replica_url()
    READ_YOUR_WRITES_SECONDS = int(os.environ.get("READ_YOUR_WRITES_SECONDS", "300"))
    REPLICA_RETRY_SECONDS = float(os.environ.get("REPLICA_RETRY_SECONDS", "5"))  # after it failed

    # Redis (webapp/redis_clients.py): a URL (redis://, rediss:// for TLS, unix://), or Sentinels.
    REDIS_URL = os.environ.get("REDIS_URL")
    REDIS_TLS_CA_CERTS = os.environ.get("REDIS_TLS_CA_CERTS")  # unset: the system's CAs
    REDIS_TLS_CERTFILE = os.environ.get("REDIS_TLS_CERTFILE")  # a client certificate, if asked for
    REDIS_TLS_KEYFILE = os.environ.get("REDIS_TLS_KEYFILE")
    REDIS_SENTINELS = os.environ.get("REDIS_SENTINELS")  # host:port,host:port (instead of REDIS_URL)
    REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER")  # the primary's name there
    REDIS_PASSWORD = os.environ.get("REDIS_PASSWORD")
    REDIS_SENTINEL_PASSWORD = os.environ.get("REDIS_SENTINEL_PASSWORD")
    REDIS_DB = int(os.environ.get("REDIS_DB", "0"))
    # Fail fast on a hung Redis instead of blocking a request for a minute.
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.5"))
    # The page and fragment cache (webapp/cache.py). Changes show at once (generations); the
    # lifetime only bounds how long text that depends on the clock ("Overdue") can lag.
    CACHE_FRAGMENT_SECONDS = 30
    CACHE_STALE_SECONDS = 30  # a stale copy is served meanwhile while one request re-renders
    CACHE_LOCK_SECONDS = 5.0  # the longest one request may hold a page's re-rendering
    CACHE_WAIT_SECONDS = 1.0  # how long others wait for a page nobody has a copy of yet
    CACHE_RETRY_SECONDS = 5.0  # after Redis failed, the cache is off this long in a process
    SESSION_CACHE_SECONDS = 300  # a signed-in session checked against the database this often

    MAIL_URL = os.environ.get("MAIL_URL")  # smtp://user:pass@host:port, smtps://…, or unset
    MAIL_FROM = os.environ.get("MAIL_FROM", "Tasklane <no-reply@tasklane.local>")
    OUTBOX_DIR = Path(os.environ.get("OUTBOX_DIR", INSTANCE_DIR / "outbox"))
    PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:{}".format(os.environ.get("PORT", "8000")))

    MAX_CONTENT_LENGTH = 64 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    SESSION_IDLE_HOURS = 12
    SESSION_ABSOLUTE_DAYS = 7  # a session without "remember me" ends this long after login
    REMEMBER_DAYS = 30
    PASSWORD_RESET_MINUTES = 60
    RESET_MAILS_PER_HOUR = 3  # to one inbox, whoever asks and from wherever
    RATELIMIT_RESET_PER_EMAIL = f"{RESET_MAILS_PER_HOUR} per hour"
    EMAIL_CONFIRM_HOURS = 48  # how long a link that confirms an address works
    CONFIRM_MAILS_PER_HOUR = 3  # confirmation links to one inbox, however they are asked for
    SIGNUP_NOTICES_PER_HOUR = 3  # "someone tried to sign up with your address" to one inbox
    # argon2id: RFC 9106's second recommendation (64 MiB, 3 passes, 4 lanes), above OWASP's
    # minimum (19 MiB, 2 passes, 1 lane). Tests lower them; production cannot.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_KIB = 64 * 1024
    ARGON2_PARALLELISM = 4

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    RATELIMIT_HEADERS_ENABLED = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True  # Redis down: the same limits, per process
    # Per signed-in user, or per client address when anonymous (webapp/limits.py). One limit each.
    RATELIMIT_READS = os.environ.get("RATELIMIT_READS", "600 per minute")  # pages, lists, searches
    RATELIMIT_WRITES = os.environ.get("RATELIMIT_WRITES", "60 per minute")
    RATELIMIT_LOGIN_PER_ADDRESS = os.environ.get("RATELIMIT_LOGIN_PER_ADDRESS", "10 per minute")
    RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT = "100 per hour"  # whatever the number of addresses
    RATELIMIT_SIGNUP_PER_ADDRESS = os.environ.get("RATELIMIT_SIGNUP_PER_ADDRESS", "20 per hour")
    RATELIMIT_SIGNUP_PER_EMAIL = "3 per hour"
    RATELIMIT_RESET_PER_ADDRESS = "5 per minute;30 per hour"
    PAGE_SIZE = 50
    MAX_SHOWN_ROWS = 1000  # rows a list URL's `shown` may ask for at once ("load more" keeps it)
    NOTIFICATIONS_PAGE_SIZE = 50
    ADMIN_PAGE_SIZE = 50  # users and audit entries per page of the admin dashboard

    # Reminder dispatch (see webapp/reminders/dispatch.py).
    SWEEP_BATCH = 2000  # due reminders, or users to plan a daily or weekly mail for, per transaction
    DELIVERY_BATCH = 1000  # mails per send job, over one SMTP connection
    DELIVERY_LEASE_SECONDS = int(os.environ.get("DELIVERY_LEASE_SECONDS", "300"))
    # Seconds before each retry of a transient mail failure; after the last one, it has failed.
    MAIL_RETRY_DELAYS = tuple(
        float(seconds) for seconds in os.environ.get("MAIL_RETRY_DELAYS", "30,120,600,1800,7200").split(",")
    )
    # A Prometheus scraper sends it as `Authorization: Bearer …` to read /metrics; unset: no access.
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN")
    # How many reverse proxies (nginx) stand in front of the app and set X-Forwarded-*.
    PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))

    # Static files (webapp/assets): pages load them from the CDN when CDN_URL is set (the public
    # base URL of what `flask assets push` uploads), else from the app's own /static/dist/.
    CDN_URL = os.environ.get("CDN_URL", "").rstrip("/") or None
    # Where `flask assets push` uploads: any S3-compatible store (S3, R2, MinIO, Spaces…). Unset
    # endpoint: AWS; unset keys: boto3 finds credentials as usual (an instance role, ~/.aws).
    ASSETS_S3_BUCKET = os.environ.get("ASSETS_S3_BUCKET")
    ASSETS_S3_ENDPOINT_URL = os.environ.get("ASSETS_S3_ENDPOINT_URL")
    ASSETS_S3_REGION = os.environ.get("ASSETS_S3_REGION")
    ASSETS_S3_ACCESS_KEY_ID = os.environ.get("ASSETS_S3_ACCESS_KEY_ID")
    ASSETS_S3_SECRET_ACCESS_KEY = os.environ.get("ASSETS_S3_SECRET_ACCESS_KEY")

    # Logs of every process (webapp/logs.py): one JSON object per line, or readable text.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if ENV_NAME == "production" else "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
    SENTRY_DSN = os.environ.get("SENTRY_DSN")  # error tracking, when set
    # A worker's heartbeat lasts this long: /readyz counts a worker alive while it holds one.
    WORKER_TTL_SECONDS = int(os.environ.get("WORKER_TTL_SECONDS", "60"))
    # Alerts (webapp/ops/alerts.py): admins get a mail and a red banner while one of these holds.
    # A scheduler silent this long is not ticking (for /readyz too); keep it above its --interval.
    SCHEDULER_SILENT_SECONDS = float(os.environ.get("SCHEDULER_SILENT_SECONDS", "180"))
    # This many mails failed for good among those planned in the last ALERT_FAILED_WINDOW_HOURS
    # (a mail fails for good after its last retry, ~3 hours after it was planned).
    ALERT_FAILED_DELIVERIES = int(os.environ.get("ALERT_FAILED_DELIVERIES", "20"))
    ALERT_FAILED_WINDOW_HOURS = float(os.environ.get("ALERT_FAILED_WINDOW_HOURS", "4"))
    ALERT_CHECK_SECONDS = float(os.environ.get("ALERT_CHECK_SECONDS", "30"))  # by each worker
    # A problem must last this long before admins are mailed (a deploy restarts workers).
    ALERT_AFTER_SECONDS = float(os.environ.get("ALERT_AFTER_SECONDS", "60"))
    ALERT_MAILS = os.environ.get("ALERT_MAILS", "1") != "0"  # off: the banner and /readyz only

    # Backups (webapp/backups): `flask backup` and the nightly job write them here and keep the
    # newest BACKUP_KEEP; `flask restore FILE` brings one back.
    BACKUP_DIR = Path(os.environ.get("BACKUP_DIR", INSTANCE_DIR / "backups"))
    BACKUP_KEEP = int(os.environ.get("BACKUP_KEEP", "14"))
    BACKUP_SQLITE_STEP_PAGES = 1024  # pages SQLite copies between two progress reports (4 MiB)


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True


PRODUCTION_REQUIRES = ("SECRET_KEY", "DATABASE_URL", "MAIL_URL", "PUBLIC_URL", "PROXY_HOPS")
MIN_SECRET_KEY_LENGTH = 32
FALSE = ("", "0", "false", "no", "off")


def production_problems(env: Mapping[str, str]) -> list[str]:
    """What keeps these settings from running in production, each with what to do about it."""
    problems = [f"{name} is not set" for name in PRODUCTION_REQUIRES if not env.get(name)]
    if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):
        problems.append("REDIS_URL is not set (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER)")
    elif env.get("REDIS_SENTINELS") and not env.get("REDIS_SENTINEL_MASTER"):
        problems.append("REDIS_SENTINEL_MASTER is not set: the name the Sentinels know the primary by")
    key = env.get("SECRET_KEY", "")
    if key and (len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_LENGTH // 4):
        problems.append(
            f"SECRET_KEY is too weak: use at least {MIN_SECRET_KEY_LENGTH} random characters"
            " (python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if env.get("PUBLIC_URL") and not env["PUBLIC_URL"].startswith("https://"):
        problems.append("PUBLIC_URL must start with https:// (it is the base of every link in mail)")
    if env.get("CDN_URL") and not env["CDN_URL"].startswith("https://"):
        problems.append("CDN_URL must start with https:// (an https page refuses scripts over http)")
    if env.get("PROXY_HOPS") and not env["PROXY_HOPS"].isdigit():
        problems.append("PROXY_HOPS must be the number of proxies in front of the app (1 behind nginx)")
    if env.get("FLASK_DEBUG", "").lower() not in FALSE:
        problems.append("FLASK_DEBUG must be off: the debugger runs code sent by whoever reaches it")
    return problems


def load_config() -> type[Config]:
    if Config.ENV_NAME != "production":
        return Config
    if problems := production_problems(os.environ):
        raise RuntimeError("production settings refused:\n- " + "\n- ".join(problems))
    return ProductionConfig
