"""One-click unsubscribe: a signed link in every mail switches that kind of mail off.

Opening the link (GET or HEAD) only asks: mail scanners fetch every link in a mail, and must not
unsubscribe anyone. A POST to the same URL switches the mail off: the page's one button, or the
RFC 8058 one-click POST ("List-Unsubscribe=One-Click") that mail clients send from the
List-Unsubscribe-Post header, without a login or a CSRF token.

The token is [user_id, kind] signed with the app's SECRET_KEY (salt "unsubscribe"); it carries no
expiry, so a link in an old mail keeps working. Every kind of mail has its own switch; switched
off, reminders still appear in the app, they are only no longer mailed.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..cache import account_changed
from ..extensions import db
from ..links import absolute_url
from ..models import MAX_ID, User
from .kinds import SWITCHABLE, MailKind

SALT = "unsubscribe"
KINDS = tuple(kind.value for kind in SWITCHABLE)


@dataclass(frozen=True)
class Subscription:
    """Who a token speaks for and which mail it is about."""

    user: User
    kind: MailKind

    @property
    def description(self) -> str:
        return self.kind.description

    @property
    def subscribed(self) -> bool:
        return bool(getattr(self.user, self.kind.preference))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def unsubscribe_token(user_id: int, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown mail kind {kind!r}; expected one of {', '.join(KINDS)}")
    return _serializer().dumps([int(user_id), kind])


def unsubscribe_url(user_id: int, kind: str) -> str:
    """The absolute one-click link for a mail of `kind` to user `user_id` (body and List-Unsubscribe)."""
    return absolute_url("reminders.unsubscribe", token=unsubscribe_token(user_id, kind))


def subscription_for(token: str) -> Subscription | None:
    """The subscription a token names, or None for a tampered token, unknown kind or user."""
    try:
        user_id, kind = _serializer().loads(token)
    except (BadSignature, TypeError, ValueError):
        return None
    if type(user_id) is not int or not 0 < user_id <= MAX_ID or kind not in KINDS:
        return None
    user = db.session.get(User, user_id)
    return Subscription(user, MailKind(kind)) if user is not None else None


def set_subscribed(subscription: Subscription, subscribed: bool) -> None:
    """Switch that kind of mail on or off for the user."""
    setattr(subscription.user, subscription.kind.preference, subscribed)
    account_changed(subscription.user.id)
    db.session.commit()
