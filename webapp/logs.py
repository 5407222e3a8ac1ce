"""Logs of the web, worker and scheduler processes: one JSON object per line (LOG_FORMAT=json,
production's default) or readable lines (text, development's).

Each line says when, how bad, which logger and what, and which request it belongs to. A request's
id is nginx's X-Request-ID when a proxy is trusted (PROXY_HOPS > 0), else a new one; the answer
carries it back in X-Request-ID, every line logged while the request runs carries it, and one line
sums the request up (method, path, status, duration) once its answer has gone. A job the request
enqueues keeps the id in its meta (webapp/queueing.py), and the worker puts it on that job's lines
with the job's own id.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime

from flask import Flask, request
from werkzeug.wsgi import ClosingIterator

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
JOB_ID: ContextVar[str | None] = ContextVar("job_id", default=None)

# An id a proxy sends is used as it is only when it looks like one (nginx's $request_id: 32 hex).
REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# The summary line of a request holds these, in JSON as fields of their own.
REQUEST_FIELDS = ("method", "path", "status", "duration_ms")
# URL arguments that are credentials (reset and unsubscribe links): a path holding one is logged
# as its route instead, so logs never hold a working link.
SECRET_URL_ARGUMENTS = frozenset({"token"})
LOGGED_PATH_KEY = "tasklane.logged_path"
COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # rq colours its lines when it writes to a terminal

requests_log = logging.getLogger("webapp.requests")


class _StampIds(logging.Filter):
    """Puts the request and job this process is working for on each record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        record.job_id = JOB_ID.get()
        ids = " ".join(part for part in (record.request_id, record.job_id) if part)
        record.ids = f" [{ids}]" if ids else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": COLOURS.sub("", record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        if job_id := getattr(record, "job_id", None):
            entry["job_id"] = job_id
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(ids)s: %(message)s"


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def use_format(handler: logging.Handler, log_format: str) -> None:
    """Have `handler` (ours, or gunicorn's) write in `log_format`, with the ids."""
    handler.setFormatter(formatter_for(log_format))
    if not any(isinstance(each, _StampIds) for each in handler.filters):
        handler.addFilter(_StampIds())


class _ProcessHandler(logging.StreamHandler):
    """The one handler this module puts on the root logger (replaced when configured again)."""


def configure(log_format: str, level: str) -> None:
    """Every logger of this process writes to stderr in `log_format` from `level` up."""
    root = logging.getLogger()
    for handler in [each for each in root.handlers if isinstance(each, _ProcessHandler)]:
        root.removeHandler(handler)
    handler = _ProcessHandler(sys.stderr)
    use_format(handler, log_format)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # Python's warnings too, not as lines of their own shape


def new_request_id() -> str:
    return os.urandom(16).hex()  # 32 hex digits, as nginx's $request_id


class RequestLog:
    """WSGI middleware: the request's id, in and out, and the line that sums the request up."""

    def __init__(self, app: Callable, *, trust_request_id: bool) -> None:
        self.app = app
        self.trust_request_id = trust_request_id

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = self._request_id(environ)
        REQUEST_ID.set(request_id)
        answered: list[str] = []

        def start(status: str, headers: list, exc_info=None):
            answered[:] = [status]
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        try:
            answer = self.app(environ, start)
        except BaseException:
            self._sum_up(environ, "500", started)  # the server answers 500 for it
            raise
        return ClosingIterator(
            answer, lambda: self._sum_up(environ, answered[0] if answered else "500", started)
        )

    def _request_id(self, environ: dict) -> str:
        given = environ.get("HTTP_X_REQUEST_ID", "") if self.trust_request_id else ""
        return given if REQUEST_ID_SHAPE.fullmatch(given) else new_request_id()

    def _sum_up(self, environ: dict, status: str, started: float) -> None:
        try:
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            method = environ.get("REQUEST_METHOD", "")
            path = environ.get(LOGGED_PATH_KEY) or environ.get("PATH_INFO", "")
            code = int(status.split(" ", 1)[0])
            requests_log.info(
                "%s %s %s in %s ms",
                method,
                path,
                code,
                duration_ms,
                extra={"method": method, "path": path, "status": code, "duration_ms": duration_ms},
            )
        finally:
            REQUEST_ID.set(None)


def _hide_secret_path(endpoint: str | None, values: dict | None) -> None:
    """A path holding a credential (a reset or unsubscribe token) is logged as its route. (A URL
    value preprocessor runs before every before_request hook, which may refuse the request.)"""
    if values and SECRET_URL_ARGUMENTS & values.keys() and request.url_rule is not None:
        request.environ[LOGGED_PATH_KEY] = request.url_rule.rule


def start_error_tracking(dsn: str, environment: str) -> None:
    """Sentry: unhandled errors of requests and jobs, and ERROR log lines, go there. Imported only
    when switched on (it takes a tenth of a second to import)."""
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, environment=environment, send_default_pii=False)


def init_app(app: Flask) -> None:
    """Logging and error tracking for this process (unless under tests, whose runner owns
    logging), and what the request log needs from Flask."""
    if not app.testing:
        configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    if app.config["SENTRY_DSN"]:
        start_error_tracking(app.config["SENTRY_DSN"], app.config["ENV_NAME"])
    app.url_value_preprocessor(_hide_secret_path)


def wrap(app: Flask) -> None:
    """`app.wsgi_app` inside the request log; call it last, so the log sees the whole answer."""
    app.wsgi_app = RequestLog(app.wsgi_app, trust_request_id=app.config["PROXY_HOPS"] > 0)
