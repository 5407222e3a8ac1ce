"""Confirmed addresses: sign-up, the mailed confirmation link, and sending it again.

Mail about tasks goes only to a confirmed address (the sweeps in webapp/reminders/dispatch.py):
whoever signs up with someone else's address cannot make Tasklane mail that person. An address
is confirmed by following the link mailed to it, or a password-reset link (mailed to it too).

Sign-up answers alike for a new address and one that has an account, so nobody learns which
addresses have one: both hash the password, plan one mail and show "check your inbox". A new
address gets its confirmation link; the owner of an existing one a notice that someone tried to
sign up with it (no second account is made). Each kind of mail reaches one inbox at most a few
times an hour (CONFIRM_MAILS_PER_HOUR, SIGNUP_NOTICES_PER_HOUR), however often it is asked for.
"""

from __future__ import annotations

import enum
from datetime import timedelta

from flask import current_app

from ..extensions import db
from ..models import EmailConfirmation, User
from ..reminders.kinds import MailKind
from . import tokens
from .services import (
    EmailTaken,
    add_account,
    confirm_address,
    hash_password,
    plan_account_mail,
    user_by_email,
)


class LinkState(enum.Enum):
    USABLE = "usable"  # confirms its address when the owner says so
    CONFIRMED = "confirmed"  # the address is confirmed: nothing is left to do
    EXPIRED = "expired"  # expired or used, the address still unconfirmed: a new link can be sent
    UNKNOWN = "unknown"  # not a link we sent


def sign_up(email: str, password: str, display_name: str, timezone: str) -> None:
    """Make the account and plan its confirmation mail, or, when the address has an account,
    plan a notice to its owner instead. The caller asks for the mail to be handed out."""
    password_hash = hash_password(password)  # for both: the answer takes the same time
    owner = user_by_email(email)
    if owner is None:
        try:
            user = add_account(email, password_hash, display_name, timezone)
        except EmailTaken:  # a concurrent sign-up with the same address won the race
            owner = user_by_email(email)
        else:
            _plan_confirmation(user)
    if owner is not None:
        plan_account_mail(owner, MailKind.SIGNUP_ATTEMPT, current_app.config["SIGNUP_NOTICES_PER_HOUR"])
    db.session.commit()


def _plan_confirmation(user: User) -> bool:
    per_hour = current_app.config["CONFIRM_MAILS_PER_HOUR"]
    return plan_account_mail(user, MailKind.EMAIL_CONFIRMATION, per_hour, email=user.email)


def send_confirmation_again(user: User) -> bool:
    """A new confirmation link for the user's unconfirmed address; False when none was planned
    (the address is confirmed, or enough links went to it this hour)."""
    planned = user.email_verified_at is None and _plan_confirmation(user)
    db.session.commit()
    return planned


def issue_confirmation_token(user: User, delivery_key: str, email: str) -> tuple[str, int]:
    """The token of this confirmation mail and the hours it works (caller commits). Earlier
    links keep working until they expire: a mail that arrives late is still good."""
    hours = current_app.config["EMAIL_CONFIRM_HOURS"]
    token = tokens.issue(
        EmailConfirmation,
        "email-confirmation",
        user,
        delivery_key,
        timedelta(hours=hours),
        only_newest=False,
        email=email,
    )
    return token, hours


def _state(row: EmailConfirmation | None) -> LinkState:
    if row is None:
        return LinkState.UNKNOWN
    user = db.session.get(User, row.user_id)
    if user.email != row.email:  # the account has another address now
        return LinkState.UNKNOWN
    if user.email_verified_at is not None:
        return LinkState.CONFIRMED
    return LinkState.USABLE if tokens.usable(row) else LinkState.EXPIRED


def link_state(token: str) -> LinkState:
    return _state(tokens.find(EmailConfirmation, token))


def confirm_with(token: str) -> bool:
    """Follow the link: its address is confirmed, and the user's other links stop working.
    False when the link was not USABLE (used, expired, or not ours)."""
    row = tokens.use(EmailConfirmation, token)
    if row is None:
        return False
    user = db.session.get(User, row.user_id)
    confirmed = user.email == row.email
    if confirmed:
        confirm_address(user)
        tokens.end_unused(EmailConfirmation, user)
    db.session.commit()
    return confirmed


def send_new_link(token: str) -> bool:
    """From an expired link: a new one to the same address, if it is still unconfirmed (at most
    CONFIRM_MAILS_PER_HOUR). False when the link is not one we sent."""
    row = tokens.find(EmailConfirmation, token)
    state = _state(row)
    if state is LinkState.UNKNOWN:
        return False
    if state is LinkState.EXPIRED:
        _plan_confirmation(db.session.get(User, row.user_id))
        db.session.commit()
    return True
