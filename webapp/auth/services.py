"""Accounts: sign-up, passwords (argon2), profile changes and password-reset tokens."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from datetime import timedelta
from functools import cache, lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ..cache import account_changed, tasks_changed
from ..extensions import db
from ..models import PasswordResetToken, User, UserSession
from ..projects.services import ensure_inbox
from ..reminders.dispatch import request_hand_out
from ..reminders.kinds import SWITCHABLE, MailKind
from ..reminders.models import Delivery
from ..tasks.zone_change import keep_all_day_dates
from ..timezones import local_today, monday_of, now_utc
from . import tokens
from .tokens import token_hash as token_hash  # where sessions and the cache shortcut take it from

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


class AccountDeactivated(Exception):
    """The password is right, but an admin deactivated the account."""


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


def add_account(email: str, password_hash: str, display_name: str, timezone: str) -> User:
    """A new user with their Inbox, not committed yet, their address not confirmed. Raises
    EmailTaken (the session rolled back) when the address has an account."""
    email = normalize_email(email)
    user = User(
        email=email,
        password_hash=password_hash,
        display_name=display_name.strip(),
        timezone=timezone,
        # The first weekly digest comes next Monday, not for a week before the account existed.
        digest_planned_on=monday_of(local_today(timezone)),
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError as error:  # the unique index: the address has an account
        db.session.rollback()
        raise EmailTaken(email) from error
    ensure_inbox(user)
    return user


def create_account(email: str, password: str, display_name: str, timezone: str) -> User:
    """A new user with their Inbox, committed together. Raises EmailTaken."""
    user = add_account(email, hash_password(password), display_name, timezone)
    db.session.commit()
    return user


def confirm_address(user: User) -> None:
    """The user's address is shown to be theirs: mail about their tasks may go to it (caller
    commits)."""
    if user.email_verified_at is None:
        user.email_verified_at = now_utc()
        account_changed(user.id)


def authenticate(email: str, password: str) -> User | None:
    """The user with these credentials, or None; AccountDeactivated when an admin deactivated
    them. Upgrades the hash when argon2 settings change."""
    user = user_by_email(email)
    if user is None:
        _verify(_dummy_hash(_hasher()), password)
        return None
    if not _verify(user.password_hash, password):
        return None
    if not user.is_active:
        raise AccountDeactivated(user.email)
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def check_password(user: User, password: str) -> bool:
    return _verify(user.password_hash, password)


def update_profile(
    user: User, display_name: str, timezone: str, mail_preferences: Mapping[str, bool] | None = None
) -> None:
    """Name, zone and, when given, which scheduled mails to send (keys from MAIL_PREFERENCES).
    A new zone keeps the dates of all-day tasks (tasks/zone_change.py)."""
    user.display_name = display_name.strip()
    if timezone != user.timezone:
        keep_all_day_dates(user, user.timezone, timezone)
        tasks_changed(user.id)
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
    end_every_session(user)


def end_every_session(user: User) -> None:
    """Every session and every unused reset link of the user ends, cached copies included: the
    next request with any of their cookies finds no session (caller commits)."""
    account_changed(user.id)
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    tokens.end_unused(PasswordResetToken, user)


def change_password(user: User, new_password: str) -> None:
    """The caller starts a fresh session for the current browser afterwards."""
    _set_password(user, new_password)
    db.session.commit()


def plan_account_mail(user: User, kind: MailKind, per_hour: int, **payload) -> bool:
    """Plan a mail about the account (a reset, a confirmation link, a sign-up notice) unless
    `per_hour` of its kind already went to this user in the last hour; the caller commits and
    asks for it to be handed out. Each is its own mail (its own key, so its own link).

    A delivery row is written: the mail goes out through the delivery pipeline, with its
    retries, so a mail server that is down delays the mail instead of losing it, and Redis
    being down only delays it to the next sweep."""
    if _mails_in_the_last_hour(user, kind) >= per_hour:
        return False
    key = f"{kind.value}:{user.id}:{secrets.token_hex(8)}"
    db.session.add(Delivery(key=key, user_id=user.id, kind=kind.value, payload=json.dumps(payload)))
    return True


def _mails_in_the_last_hour(user: User, kind: MailKind) -> int:
    recent = select(func.count()).where(
        Delivery.user_id == user.id,
        Delivery.kind == kind.value,
        Delivery.created_at > now_utc() - timedelta(hours=1),
    )
    return db.session.scalar(recent)


def request_password_reset(email: str) -> bool:
    """Plan a reset mail for the active account with this address, if there is one, and ask a
    worker to send it now; whether a mail was planned.

    At most RESET_MAILS_PER_HOUR go to one inbox, however many addresses ask: the answer to the
    form is the same either way."""
    user = user_by_email(email)
    if user is None or not user.is_active:
        return False
    if not plan_account_mail(user, MailKind.PASSWORD_RESET, current_app.config["RESET_MAILS_PER_HOUR"]):
        return False
    db.session.commit()
    request_hand_out()
    return True


def reset_mails_used_up(user: User) -> bool:
    """RESET_MAILS_PER_HOUR reset mails went to the user's inbox in the last hour."""
    per_hour = current_app.config["RESET_MAILS_PER_HOUR"]
    return _mails_in_the_last_hour(user, MailKind.PASSWORD_RESET) >= per_hour


def issue_reset_token(user: User, delivery_key: str) -> tuple[str, int]:
    """The token for this reset mail, valid for PASSWORD_RESET_MINUTES from now, and those
    minutes (caller commits). Only the newest reset link works."""
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    lifetime = timedelta(minutes=minutes)
    token = tokens.issue(PasswordResetToken, "password-reset", user, delivery_key, lifetime, only_newest=True)
    return token, minutes


def valid_reset_token(token: str) -> PasswordResetToken | None:
    """The unused, unexpired reset token, or None."""
    row = tokens.find(PasswordResetToken, token)
    return row if tokens.usable(row) and db.session.get(User, row.user_id).is_active else None


def reset_password(token: str, new_password: str) -> User | None:
    """Use the token and set the password in one transaction; None when the token is not valid.
    The link came by mail, so following it also confirms the address."""
    row = tokens.use(PasswordResetToken, token)
    if row is None:
        return None
    user = db.session.get(User, row.user_id)
    if not user.is_active:  # deactivated after the mail went out
        db.session.rollback()
        return None
    _set_password(user, new_password)
    confirm_address(user)
    db.session.commit()
    return user
