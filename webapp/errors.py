"""Error pages: every 4xx the app raises renders a page, or a fragment into #flash for htmx."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import login_manager
from .limits import retry_after_seconds
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
}


def _render_error(error: HTTPException):
    code = error.code or 500
    message = MESSAGES.get(code, error.description)
    if error.description and code in (400, 409, 422) and error.description != type(error).description:
        message = error.description
    if code == 429:
        message = f"Too many requests. Please try again in {retry_after_seconds()} s."
    if wants_fragment():
        body = render_template("errors/_message.html", message=message, code=code)
        return body, code, {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML", "Vary": "HX-Request"}
    return render_template("errors/error.html", message=message, code=code), code, {"Vary": "HX-Request"}


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
