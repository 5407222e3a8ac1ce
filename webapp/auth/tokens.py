"""Secret links in mail (a password reset, an address confirmation).

A link's token is derived from its mail's delivery key and the app's secret, never stored: a
retried or re-composed mail carries the same link, and the database holds only its SHA-256
(a MailedToken row). A token works once, until it expires; using it is a conditional UPDATE, so
two concurrent uses cannot both succeed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import timedelta

from flask import current_app
from sqlalchemy import update

from ..extensions import db
from ..models import MailedToken, User
from ..timezones import now_utc

LONGEST_TOKEN = 128  # what a link may carry; ours are 43 characters


def token_hash(token: str) -> str:
    """What we store of a secret token (sessions, mailed links): its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def _token_for(purpose: str, delivery_key: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"{purpose}:{delivery_key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(
    model: type[MailedToken],
    purpose: str,
    user: User,
    delivery_key: str,
    lifetime: timedelta,
    *,
    only_newest: bool,
    **columns,
) -> str:
    """The token for this mail (`purpose` tells the kinds of link apart), valid for `lifetime`
    from now (caller commits).

    Composing the mail again (a retry) renews its unused token rather than adding another. With
    `only_newest`, a new token ends the user's earlier unused ones."""
    token = _token_for(purpose, delivery_key)
    hashed = token_hash(token)
    expires_at = now_utc() + lifetime
    row = db.session.get(model, hashed)
    if row is None:
        if only_newest:
            end_unused(model, user)
        db.session.add(model(token_hash=hashed, user_id=user.id, expires_at=expires_at, **columns))
    elif row.used_at is None:
        row.expires_at = expires_at
    return token


def end_unused(model: type[MailedToken], user: User) -> None:
    """The user's unused tokens of this kind stop working (caller commits)."""
    db.session.execute(
        update(model).where(model.user_id == user.id, model.used_at.is_(None)).values(used_at=now_utc())
    )


def _plausible(token: str) -> bool:
    return bool(token) and len(token) <= LONGEST_TOKEN


def find(model: type[MailedToken], token: str) -> MailedToken | None:
    """The row of this token, used, expired or not; None for a token we never issued."""
    return db.session.get(model, token_hash(token)) if _plausible(token) else None


def usable(row: MailedToken | None) -> bool:
    return row is not None and row.used_at is None and row.expires_at > now_utc()


def use(model: type[MailedToken], token: str) -> MailedToken | None:
    """Mark the token used if it is unused and unexpired, and return its row; None otherwise
    (the transaction is then rolled back). The caller commits what the token allows with it."""
    if not _plausible(token):
        return None
    now = now_utc()
    hashed = token_hash(token)
    claimed = db.session.execute(
        update(model)
        .where(model.token_hash == hashed, model.used_at.is_(None), model.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    return db.session.get(model, hashed, populate_existing=True)
