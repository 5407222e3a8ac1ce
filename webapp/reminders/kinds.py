"""The one declaration of every kind of mail Tasklane sends.

Each kind names the User column that switches it off (None: it cannot be switched off), the
label the profile shows, what unsubscribing from it stops, and whether it is urgent: urgent mail
(a reminder the user set, a password reset) goes out ahead of bulk mail (daily, overdue, digest).
The profile form, the unsubscribe links, delivery and the tests all read this one table.

Mail about tasks goes only to a confirmed address; mail about the account itself (a reset, the
confirmation link, "someone tried to sign up with your address") is what an unconfirmed address
gets, and cannot be switched off.
"""

from __future__ import annotations

import enum


class MailKind(enum.StrEnum):
    preference: str | None
    label: str
    description: str
    urgent: bool

    def __new__(cls, value: str, preference: str | None, label: str, description: str, urgent: bool):
        member = str.__new__(cls, value)
        member._value_ = value
        member.preference = preference
        member.label = label
        member.description = description
        member.urgent = urgent
        return member

    REMINDER = (
        "reminder",
        "mail_reminders",
        "E-mail me the reminders I set on tasks",
        "e-mails for the reminders you set on tasks",
        True,
    )
    DUE_TOMORROW = (
        "due_tomorrow",
        "mail_due_tomorrow",
        "E-mail me the tasks due tomorrow (daily, 09:00)",
        "the daily e-mail about tasks due tomorrow",
        False,
    )
    OVERDUE = (
        "overdue",
        "mail_overdue",
        "E-mail me about overdue tasks (at most once a day per task)",
        "e-mails about overdue tasks",
        False,
    )
    WEEKLY_DIGEST = (
        "weekly_digest",
        "mail_weekly_digest",
        "E-mail me a weekly digest (Mondays, 08:00)",
        "the weekly digest e-mail",
        False,
    )
    PASSWORD_RESET = ("password_reset", None, "", "password-reset e-mails", True)
    EMAIL_CONFIRMATION = ("email_confirmation", None, "", "address-confirmation e-mails", True)
    SIGNUP_ATTEMPT = ("signup_attempt", None, "", "e-mails about sign-ups with your address", True)
    OPS_ALERT = ("ops_alert", None, "", "alerts to admins about the service", True)  # ops/alerts.py

    @property
    def needs_confirmed_address(self) -> bool:
        return self.preference is not None


SWITCHABLE = tuple(kind for kind in MailKind if kind.preference is not None)
URGENT = tuple(kind for kind in MailKind if kind.urgent)
BULK = tuple(kind for kind in MailKind if not kind.urgent)
