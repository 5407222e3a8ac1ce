"""Rate limits (Flask-Limiter on Redis): the one module that says who is counted, for what, how much.

- Every request counts against its *caller*: the signed-in user, or the client address for
  anonymous requests (after ProxyFix, so only as many proxies as PROXY_HOPS are believed).
- Two budgets apply to every route: reads (GET, HEAD: pages, lists, searches, the bell) and
  writes (every other method), each configurable (RATELIMIT_READS, RATELIMIT_WRITES).
- Logins, sign-ups and reset requests have their own limits per address and per account or
  target e-mail, so spreading guesses over many addresses does not help (`auth/views.py`).
- Cache hits answered before Flask (`cache_hits.py`) count against the reads budget in the same
  Redis round trip as their lookup (`ReadCounter`). A request they counted and handed on to Flask
  is not counted twice: within the budget, Flask-Limiter leaves it alone (three round trips
  fewer) and its headers come from that count; over it, Flask-Limiter answers the 429.
- With Redis down, the same limits hold per process (Flask-Limiter's in-memory fallback).
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit
from flask_login import current_user
from limits import RateLimitItem, parse

from . import extensions, redis_clients, stats  # extensions: the module, as it imports this one

READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
READS_SCOPE = "reads"
WRITES_SCOPE = "writes"
# Set by cache_hits on a request whose read it counted already: its ReadsCounted.
READ_COUNTED_ENVIRON_KEY = "tasklane.read_counted"
RETRY_AFTER_OF_503 = "retry_after_of_503"  # in g: the Retry-After a 503 page was given


def caller() -> str:
    """Whom a request counts against: its signed-in user, else its client address."""
    if current_user.is_authenticated:
        return user_caller(current_user.id)
    return client_address()


def client_address() -> str:
    return f"ip:{request.remote_addr}"


def user_caller(user_id: int) -> str:
    return f"user:{user_id}"


def submitted_email() -> str:
    """The e-mail address a login, sign-up or reset form names, as a key that does not spell it
    out in Redis. Every address counts, known or not: the limit tells nothing of accounts."""
    email = request.form.get("email", "").strip().lower()
    return "email:" + hashlib.sha256(email.encode()).hexdigest()[:32]


def _read_cost() -> int:
    return 0 if request.environ.get(READ_COUNTED_ENVIRON_KEY) else 1


def _counted_within_budget() -> ReadsCounted | None:
    """The read cache_hits counted for this request, when it is within the budget."""
    reads = request.environ.get(READ_COUNTED_ENVIRON_KEY)
    return reads if reads is not None and reads.count <= reads.allowed else None


def _setting(name: str):
    return lambda: current_app.config[name]


def every_route_limits() -> list[ApplicationLimit]:
    return [
        ApplicationLimit(
            _setting("RATELIMIT_READS"),
            scope=READS_SCOPE,
            methods=READ_METHODS,
            cost=_read_cost,
            exempt_when=lambda: _counted_within_budget() is not None,
        ),
        ApplicationLimit(_setting("RATELIMIT_WRITES"), scope=WRITES_SCOPE, methods=WRITE_METHODS),
    ]


def note_refusal(_breached) -> None:
    stats.count_rate_limit_refusal(extensions.queues.connection)


def login_failed(response) -> bool:
    return response.status_code == 422


def limit_per_address(setting: str):
    """A route's own limit on POSTs from one client address (signed in or not)."""
    return extensions.limiter.limit(_setting(setting), key_func=client_address, methods=["POST"])


def limit_per_email(setting: str, **options):
    """A route's own limit on POSTs naming one e-mail address, from wherever they come."""
    return extensions.limiter.limit(_setting(setting), key_func=submitted_email, methods=["POST"], **options)


def retry_after_seconds() -> int:
    """Whole seconds until the limit this request broke lets it through again."""
    breached = extensions.limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.reset_at - time.time()))


@dataclass(frozen=True)
class ReadsCounted:
    count: int  # in the current window, this one included
    allowed: int  # in a window
    reset_at: float  # when the window ends (epoch seconds)

    @property
    def headers(self) -> list[tuple[str, str]]:
        return rate_limit_headers(self.allowed, self.count, self.reset_at)


def add_counted_read_headers(response: Response) -> Response:
    """The rate-limit headers of a read counted by cache_hits, which Flask-Limiter left alone."""
    if (reads := _counted_within_budget()) and current_app.config["RATELIMIT_HEADERS_ENABLED"]:
        for name, value in reads.headers:
            response.headers.setdefault(name, value)
    return response


def before_flask_limiter(app: Flask) -> None:
    """Call before Flask-Limiter's init_app, so these run before its check and after its headers.

    The signed-in user is loaded before Flask-Limiter asks whom a request counts against
    (`caller`). Flask-Limiter takes any error there for its storage failing: a database failure
    loading the user would switch it to per-process limits and ask again on a broken transaction
    (a 500). Raised here, it is the 503 of errors.py.

    Flask-Limiter sets Retry-After on every answer to at least its window's end; a 503 keeps the
    shorter wait it was given (DATABASE_RETRY_AFTER)."""
    app.before_request(_load_signed_in_user)
    app.after_request(_keep_the_retry_after_of_a_503)


def _load_signed_in_user() -> None:
    current_user._get_current_object()


def _keep_the_retry_after_of_a_503(response: Response) -> Response:
    if response.status_code == 503 and (retry_after := g.get(RETRY_AFTER_OF_503)):
        response.headers["Retry-After"] = retry_after
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_counted_read_headers)


@dataclass(frozen=True)
class ReadCounter:
    """How cache_hits counts a read against the user's budget, with the key and window
    Flask-Limiter uses for that budget (fixed window: INCR, and EXPIRE when it starts)."""

    item: RateLimitItem
    key_prefix: str

    def key(self, user_id: int) -> str:
        return self.key_prefix + self.item.key_for(user_caller(user_id), READS_SCOPE)

    @property
    def allowed(self) -> int:
        return self.item.amount

    @property
    def window_seconds(self) -> int:
        return self.item.get_expiry()


def rate_limit_headers(allowed: int, counted: int, window_ends: float) -> list[tuple[str, str]]:
    """The headers Flask-Limiter puts on an answer, for one counted outside it (cache_hits)."""
    reset_at = int(window_ends + 1)
    return [
        ("X-RateLimit-Limit", str(allowed)),
        ("X-RateLimit-Remaining", str(max(allowed - counted, 0))),
        ("X-RateLimit-Reset", str(reset_at)),
        ("Retry-After", str(int(reset_at - time.time()))),
    ]


def limits_enabled(app: Flask) -> bool:
    return app.config.get("RATELIMIT_ENABLED", True)


def read_counter(app: Flask) -> ReadCounter | None:
    """The reads budget as cache_hits counts it, in the cache's Redis; None when the limits live
    elsewhere (then cache_hits cannot count, and leaves every request to Flask)."""
    if not redis_clients.cache_and_limits_share_redis(app):
        return None
    return ReadCounter(parse(app.config["RATELIMIT_READS"]), extensions.limiter.storage.prefixed_key(""))
