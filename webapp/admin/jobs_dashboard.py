"""rq-dashboard, mounted at /admin/rq on the app's Redis, for admins only.

Its blueprint is registered on the app as it is: a hook added to rq-dashboard's own blueprint
would break every app made after the first, so the guard is an app-level before_request that
looks at request.blueprint. Its pages post with jQuery and no CSRF token, so the blueprint is
exempt from CSRF and its writes are checked by origin instead (webapp/origin.py). Its pages run
inline script and underscore templates (which compile with `new Function`): they get their own
Content-Security-Policy, with the hashes of exactly the inline scripts each page carries.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import partial

import rq_dashboard
from flask import Flask, Response, abort, current_app, request, url_for
from redis.exceptions import ResponseError
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import requeue_job
from rq_dashboard.web import setup_rq_connection

from webapp.queueing import SERIALIZER, JsonJob

from .. import redis_clients
from ..extensions import csrf, queues
from ..headers import CONTENT_SECURITY_POLICY
from ..origin import from_this_site
from .access import refuse_all_but_admins

BLUEPRINT = "rq_dashboard"
URL_PREFIX = "/admin/rq"
POLL_MILLISECONDS = 5000  # its pages refresh themselves this often
# GET routes of rq-dashboard that change something: checked by origin like its POSTs.
WRITES_BY_GET = frozenset({"rq_dashboard.requeue_all"})
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


def mount(app: Flask) -> None:
    """Register rq-dashboard on this app (when it has a Redis); call after headers.init_app, so
    that its own policy is the one the response keeps."""
    if not redis_clients.configured(app):
        return
    # Its pages connect from this URL (REDIS_URL, or the Sentinels as a redis+sentinel:// URL);
    # our REDIS_PASSWORD, REDIS_DB and REDIS_SENTINELS are not its legacy settings of those names.
    settings = redis_clients.settings_of(app)
    app.config.setdefault("RQ_DASHBOARD_REDIS_URL", settings.as_url())
    app.config.setdefault("RQ_DASHBOARD_REDIS_PASSWORD", settings.password)
    app.config.setdefault("RQ_DASHBOARD_REDIS_SENTINEL_PASSWORD", settings.sentinel_password)
    for name in ("REDIS_DB", "REDIS_SENTINELS"):
        app.config.setdefault(f"RQ_DASHBOARD_{name}", None)
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", POLL_MILLISECONDS)
    app.register_blueprint(rq_dashboard.blueprint, url_prefix=URL_PREFIX)
    rq_dashboard.web.config.serializer = SERIALIZER  # jobs are JSON (webapp/queueing.py)
    # Its job page, delete and requeue fetch a job without that setting, with pickle: whoever
    # could write to Redis would run code here when an admin clicks. They get JSON too.
    rq_dashboard.web.Job = JsonJob
    rq_dashboard.web.requeue_job = partial(requeue_job, serializer=SERIALIZER)
    setup_rq_connection(app)
    # Its pages without an instance number use the queues' client instead of one of its own: on
    # the shared pool, with its short timeouts (a hung Redis fails fast).
    with app.app_context():
        app.redis_conn = queues.connection
    csrf.exempt(rq_dashboard.blueprint)
    app.before_request(_guard)
    app.after_request(_content_security_policy)
    for error, status in ((NoSuchJobError, 404), (InvalidJobOperation, 409), (ResponseError, 409)):
        app.register_error_handler(error, partial(_refused, status=status))


def url() -> str | None:
    """Where rq-dashboard is, when this app has it."""
    return url_for("rq_dashboard.queues_overview") if BLUEPRINT in current_app.blueprints else None


def _guard():
    if request.blueprint != BLUEPRINT:
        return None
    refused = refuse_all_but_admins()
    if refused is not None:
        return refused
    if (request.method != "GET" or request.endpoint in WRITES_BY_GET) and not from_this_site():
        abort(403)
    return None


def _refused(error: Exception, status: int):
    """What rq-dashboard lets through as a 500: requeueing or deleting a job that is no longer
    there (another admin, a double click), compacting an empty queue (Redis: no such key)."""
    if request.blueprint != BLUEPRINT:
        raise error
    return {"status": "ERROR", "message": str(error) or type(error).__name__}, status


def _content_security_policy(response: Response) -> Response:
    if request.blueprint == BLUEPRINT and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = policy_for(response.get_data())
    return response


def policy_for(page: bytes) -> str:
    """The app's policy, with the page's own inline scripts, eval (underscore's templates) and
    inline styles (its markup sets some) allowed."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(page)
    )
    return CONTENT_SECURITY_POLICY.replace(
        "script-src 'self'", f"script-src 'self' 'unsafe-eval' {hashes}".rstrip()
    ).replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
