"""Jobs that send mail. Mail is never sent inside a web request."""

from __future__ import annotations

import secrets

from flask import current_app, render_template
from rq import get_current_job

from webapp.auth.services import create_reset_token
from webapp.extensions import db
from webapp.mail import send_mail
from webapp.models import User

from .appcontext import in_app_context


@in_app_context
def send_password_reset_mail(user_id: int) -> str | None:
    """Create a single-use reset link for the user and mail it. Returns the Message-ID."""
    user = db.session.get(User, user_id)
    if user is None:  # the account was deleted after the request
        return None
    token = create_reset_token(user)
    link = f"{current_app.config['PUBLIC_URL'].rstrip('/')}/reset/{token}"
    context = {
        "user": user,
        "link": link,
        "minutes": current_app.config["PASSWORD_RESET_MINUTES"],
    }
    # One key per enqueued job: a retry of the same job carries the same Message-ID.
    job = get_current_job()
    key = f"password-reset:{user.id}:{job.id if job else secrets.token_hex(8)}"
    return send_mail(
        user.email,
        "Reset your Tasklane password",
        render_template("mail/password_reset.txt", **context),
        html=render_template("mail/password_reset.html", **context),
        key=key,
    )
