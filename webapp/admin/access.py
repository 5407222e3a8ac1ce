"""Who may use the admin pages and rq-dashboard: signed-in admins. A visitor is asked to log in,
any other user gets the 403 page."""

from __future__ import annotations

from flask import abort, current_app
from flask_login import current_user


def refuse_all_but_admins():
    """A before_request hook: None lets an admin through; otherwise the answer to send."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    return None
