"""Prometheus metrics at /metrics, for admins and a scraper holding METRICS_TOKEN.

- Requests are counted and timed by `CountRequests`, the outermost WSGI layer, so cache hits
  answered before Flask are counted with the rest, under the endpoint that would have answered.
- Under gunicorn every worker process keeps its own numbers; with PROMETHEUS_MULTIPROC_DIR set
  (`make run` and the production units set it, the directory emptied at start) a scrape of any
  worker adds up all of them (prometheus_client's multiprocess mode).
- What lives in Redis is read at scrape time, the same for every instance: cache hits and misses
  per page, queue depths, workers, job outcomes and rate-limit refusals.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable, Iterable

from flask import Blueprint, Flask, Response, abort, current_app, request
from flask_login import current_user
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis.exceptions import RedisError
from rq import Worker

from jobs import QUEUES

from . import cache, stats
from .extensions import limiter, queues

ENDPOINT_ENVIRON_KEY = "tasklane.endpoint"  # set by whichever part answers: Flask or cache_hits
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter("tasklane_http_requests", "Requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "tasklane_http_request_duration_seconds", "Time to answer", ["endpoint"], buckets=LATENCY_BUCKETS
)

bp = Blueprint("metrics", __name__)


class CountRequests:
    """WSGI middleware: counts and times every request, by endpoint, method and status."""

    def __init__(self, wsgi_app: Callable) -> None:
        self.app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        status = ["500"]

        def noting_status(code_and_reason: str, headers, exc_info=None):
            status[0] = code_and_reason[:3]
            return start_response(code_and_reason, headers, exc_info)

        try:
            return self.app(environ, noting_status)
        finally:
            endpoint = environ.get(ENDPOINT_ENVIRON_KEY) or "unmatched"
            method = environ["REQUEST_METHOD"] if environ["REQUEST_METHOD"] in METHODS else "other"
            REQUESTS.labels(endpoint, method, status[0]).inc()
            LATENCY.labels(endpoint).observe(time.perf_counter() - started)


def _note_endpoint() -> None:
    request.environ[ENDPOINT_ENVIRON_KEY] = request.endpoint


class _RedisFacts:
    """What the app keeps in Redis, read when scraped; `tasklane_redis_up 0` when it cannot be."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self):
        try:
            with self.app.app_context():
                facts = _read_redis_facts(queues.connection)
        except RedisError:
            yield GaugeMetricFamily("tasklane_redis_up", "Redis answered this scrape", value=0)
            return
        yield GaugeMetricFamily("tasklane_redis_up", "Redis answered this scrape", value=1)
        yield from facts


def _read_redis_facts(connection) -> list:
    lookups = CounterMetricFamily(
        "tasklane_cache_lookups", "Cache lookups by page and outcome", labels=["page", "outcome"]
    )
    for page, counts in cache.cache_stats().items():
        for outcome, value in counts.items():
            lookups.add_metric([page, outcome], value)
    depths = GaugeMetricFamily("tasklane_queue_depth", "Jobs waiting, by queue", labels=["queue"])
    for name in QUEUES:
        depths.add_metric([name], queues.queue(name).count)
    jobs = CounterMetricFamily("tasklane_jobs", "Jobs done, by outcome", labels=["outcome"])
    for outcome, value in stats.job_outcomes(connection).items():
        jobs.add_metric([outcome], value)
    return [
        lookups,
        depths,
        GaugeMetricFamily(
            "tasklane_workers", "RQ workers registered", value=Worker.count(connection=connection)
        ),
        jobs,
        CounterMetricFamily(
            "tasklane_rate_limited",
            "Requests refused by a rate limit",
            value=stats.rate_limit_refusals(connection),
        ),
    ]


def _in_process_registry():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _authorised() -> bool:
    """A signed-in admin, or a scraper with METRICS_TOKEN."""
    if current_user.is_authenticated and current_user.is_admin:
        return True
    token = current_app.config.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


@bp.get("/metrics")
@limiter.exempt
def metrics():
    if not _authorised():
        abort(404)  # not there, as far as anyone else can tell
    facts = CollectorRegistry()
    facts.register(_RedisFacts(current_app._get_current_object()))
    body = generate_latest(_in_process_registry()) + generate_latest(facts)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.before_request(_note_endpoint)
    app.register_blueprint(bp)
