"""Error pages: every 4xx the app raises renders a page, or a fragment into #flash for htmx."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from .database import DATABASE_DOWN
from .extensions import db, login_manager
from .limits import RETRY_AFTER_OF_503, retry_after_seconds
from .responses import wants_fragment

MESSAGES = {
    400: "The request could not be understood. Please check what you entered.",
    403: "You are not allowed to do that.",
    404: "We could not find that page. It may have been deleted, or the link is wrong.",
    405: "That action is not available here.",
    409: "That conflicts with something that already exists.",
    413: "That was too large. Please send less at once.",
    422: "Some of what you entered is not valid.",
    500: "Something went wrong on our side. Please try again.",
    503: "We cannot reach our database just now. Nothing you sent was lost: please try again in a moment.",
}

log = logging.getLogger(__name__)


def _render_error(error: HTTPException, headers: dict | None = None):
    code = error.code or 500
    headers = {**(headers or {}), "Vary": "HX-Request"}
    message = MESSAGES.get(code, error.description)
    if error.description and code in (400, 409, 422, 503) and error.description != type(error).description:
        message = error.description
    if code == 429:
        message = f"Too many requests. Please try again in {retry_after_seconds()} s."
    if wants_fragment():
        body = render_template("errors/_message.html", message=message, code=code)
        return body, code, {**headers, "HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
    return render_template("errors/error.html", message=message, code=code), code, headers


def _database_down(error: Exception):
    """The database is down, frozen, too slow or out of connections: a 503 saying to try again
    (its Retry-After too), never a 500. The page needs nothing from the database, so it shows
    no signed-in user: their row is not loaded again."""
    log.warning("the database failed a request: %s", error)
    db.session().invalidate()  # drops the connections: no rollback sent to a server that may not answer
    g._login_user = login_manager.anonymous_user()
    retry_after = str(current_app.config["DATABASE_RETRY_AFTER"])
    setattr(g, RETRY_AFTER_OF_503, retry_after)
    return _render_error(ServiceUnavailable(), {"Retry-After": retry_after})


def _csrf_refused(error: CSRFError):
    """A form from a page whose session has since ended carries a token nobody can check: that is
    a login to ask for, not a bad request. The account pages (auth) hold the forms of visitors
    who are not signed in, so a refusal there stays one."""
    if not current_user.is_authenticated and request.blueprint != "auth":
        return login_manager.unauthorized()
    return _render_error(error)


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_refused)
    app.register_error_handler(HTTPException, _render_error)
    for failure in DATABASE_DOWN:
        app.register_error_handler(failure, _database_down)
