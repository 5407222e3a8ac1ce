"""Accounts: sign-up, passwords (argon2), profile changes and password-reset tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from collections.abc import Mapping
from datetime import timedelta
from functools import cache, lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ..cache import account_changed
from ..extensions import db
from ..models import PasswordResetToken, User, UserSession
from ..projects.services import ensure_inbox
from ..reminders.dispatch import request_hand_out
from ..reminders.kinds import SWITCHABLE, MailKind
from ..reminders.models import Delivery
from ..timezones import local_today, monday_of, now_utc

# The User columns that switch mails on or off (profile and unsubscribe links).
MAIL_PREFERENCES = tuple(kind.preference for kind in SWITCHABLE)

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"
TRAILING_NOISE = string.digits + string.punctuation + " "


@lru_cache(maxsize=4)
def _hasher_with(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def _hasher() -> PasswordHasher:
    """argon2id with the app's parameters (ARGON2_*: cheap ones only in tests)."""
    config = current_app.config
    return _hasher_with(config["ARGON2_TIME_COST"], config["ARGON2_MEMORY_KIB"], config["ARGON2_PARALLELISM"])


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the e-mail is unknown, so a wrong address takes as long as a wrong
    password."""
    return hasher.hash(secrets.token_hex(16))


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text().splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    """On the list of common passwords, as it is or once digits and symbols at its end go
    ("dragon2024!!" is "dragon" to whoever guesses)."""
    lowered = password.lower()
    return lowered in _common_passwords() or lowered.rstrip(TRAILING_NOISE) in _common_passwords()


class EmailTaken(Exception):
    """Another account already uses this e-mail address."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def user_by_email(email: str) -> User | None:
    """Addresses are stored normalised, so this is a plain lookup on the unique index."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def create_account(email: str, password: str, display_name: str, timezone: str) -> User:
    """A new user with their Inbox, committed together. Raises EmailTaken."""
    email = normalize_email(email)
    if user_by_email(email) is not None:
        raise EmailTaken(email)
    user = User(
        email=email,
        password_hash=hash_password(password),
        display_name=display_name.strip(),
        timezone=timezone,
        # The first weekly digest comes next Monday, not for a week before the account existed.
        digest_planned_on=monday_of(local_today(timezone)),
    )
    db.session.add(user)
    try:
        db.session.flush()
        ensure_inbox(user)
        db.session.commit()
    except IntegrityError as error:  # a concurrent sign-up with the same address won the race
        db.session.rollback()
        raise EmailTaken(email) from error
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None. Upgrades the hash when argon2 settings change."""
    user = user_by_email(email)
    if user is None:
        _verify(_dummy_hash(_hasher()), password)
        return None
    if not _verify(user.password_hash, password):
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def check_password(user: User, password: str) -> bool:
    return _verify(user.password_hash, password)


def update_profile(
    user: User, display_name: str, timezone: str, mail_preferences: Mapping[str, bool] | None = None
) -> None:
    """Name, zone and, when given, which scheduled mails to send (keys from MAIL_PREFERENCES)."""
    user.display_name = display_name.strip()
    user.timezone = timezone
    for name, wanted in (mail_preferences or {}).items():
        if name not in MAIL_PREFERENCES:
            raise ValueError(f"unknown mail preference {name!r}")
        setattr(user, name, bool(wanted))
    account_changed(user.id)
    db.session.commit()


def _set_password(user: User, password: str) -> None:
    """New hash; every session and every unused reset link of the user ends (caller commits)."""
    user.password_hash = hash_password(password)
    account_changed(user.id)
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    _end_unused_reset_tokens(user)


def _end_unused_reset_tokens(user: User) -> None:
    db.session.execute(
        update(PasswordResetToken)
        .where(PasswordResetToken.user_id == user.id, PasswordResetToken.used_at.is_(None))
        .values(used_at=now_utc())
    )


def change_password(user: User, new_password: str) -> None:
    """The caller starts a fresh session for the current browser afterwards."""
    _set_password(user, new_password)
    db.session.commit()


def token_hash(token: str) -> str:
    """What we store of a secret token (sessions, reset links): its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def request_password_reset(email: str) -> None:
    """Plan a reset mail for the account with this address, if there is one, and ask a worker
    to send it now.

    A delivery row is written: the mail goes out through the delivery pipeline, with its
    retries, so a mail server that is down delays the mail instead of losing it, and Redis
    being down only delays it to the next sweep. Each request is its own mail (its own key, so
    its own link).

    At most RESET_MAILS_PER_HOUR go to one inbox, however many addresses ask: the answer to the
    form is the same either way."""
    user = user_by_email(email)
    if user is None or _reset_mails_in_the_last_hour(user) >= current_app.config["RESET_MAILS_PER_HOUR"]:
        return
    key = f"{MailKind.PASSWORD_RESET.value}:{user.id}:{secrets.token_hex(8)}"
    db.session.add(Delivery(key=key, user_id=user.id, kind=MailKind.PASSWORD_RESET.value, payload="{}"))
    db.session.commit()
    request_hand_out()


def _reset_mails_in_the_last_hour(user: User) -> int:
    recent = select(func.count()).where(
        Delivery.user_id == user.id,
        Delivery.kind == MailKind.PASSWORD_RESET.value,
        Delivery.created_at > now_utc() - timedelta(hours=1),
    )
    return db.session.scalar(recent)


def reset_token_for(delivery_key: str) -> str:
    """The secret token of the reset mail with this key: derived, never stored, so a retried or
    re-composed mail carries the same link, and only its hash is in the database."""
    secret = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(secret, f"password-reset:{delivery_key}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_reset_token(user: User, delivery_key: str) -> tuple[str, int]:
    """The token for this reset mail, valid for PASSWORD_RESET_MINUTES from now (caller commits).

    Composing the mail again (a retry) renews an unused token rather than adding another. A new
    token ends the user's earlier unused ones: only the newest reset link works."""
    token = reset_token_for(delivery_key)
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    expires_at = now_utc() + timedelta(minutes=minutes)
    hashed = token_hash(token)
    row = db.session.get(PasswordResetToken, hashed)
    if row is None:
        _end_unused_reset_tokens(user)
        db.session.add(PasswordResetToken(token_hash=hashed, user_id=user.id, expires_at=expires_at))
    elif row.used_at is None:
        row.expires_at = expires_at
    return token, minutes


def valid_reset_token(token: str) -> PasswordResetToken | None:
    """The unused, unexpired reset token, or None."""
    if not token or len(token) > 128:
        return None
    row = db.session.get(PasswordResetToken, token_hash(token))
    if row is None or row.used_at is not None or row.expires_at <= now_utc():
        return None
    return row


def reset_password(token: str, new_password: str) -> User | None:
    """Use the token and set the password in one transaction; None when the token is not valid.

    The conditional UPDATE claims the token, so two concurrent uses cannot both succeed.
    """
    now = now_utc()
    hashed = token_hash(token)
    claimed = db.session.execute(
        update(PasswordResetToken)
        .where(
            PasswordResetToken.token_hash == hashed,
            PasswordResetToken.used_at.is_(None),
            PasswordResetToken.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        return None
    user = db.session.scalar(
        select(User).join(PasswordResetToken).where(PasswordResetToken.token_hash == hashed)
    )
    _set_password(user, new_password)
    db.session.commit()
    return user
