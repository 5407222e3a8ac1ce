"""Housekeeping: forget expired sessions and mailed links, and tasks deleted long ago."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from webapp.extensions import db
from webapp.models import EmailConfirmation, PasswordResetToken, UserSession
from webapp.tasks.services import purge_expired_tasks
from webapp.timezones import now_utc

from .appcontext import in_app_context

# An expired confirmation link still offers to send a new one for this long.
KEEP_EXPIRED_CONFIRMATIONS = timedelta(days=30)


@in_app_context
def purge_expired_records() -> dict[str, int]:
    now = now_utc()
    counts = {
        "sessions": db.session.execute(delete(UserSession).where(UserSession.expires_at < now)).rowcount,
        "reset_tokens": db.session.execute(
            delete(PasswordResetToken).where(PasswordResetToken.expires_at < now)
        ).rowcount,
        "confirmation_links": db.session.execute(
            delete(EmailConfirmation).where(EmailConfirmation.expires_at < now - KEEP_EXPIRED_CONFIRMATIONS)
        ).rowcount,
        "tasks": purge_expired_tasks(now),
    }
    db.session.commit()
    return counts
