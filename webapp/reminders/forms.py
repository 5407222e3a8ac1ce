"""The reminder form: a quick choice ("In 1 hour") or a date and time in the user's zone."""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Optional

from ..forms import ClockField, DayField
from ..models import User
from .services import QUICK_CHOICES, ReminderError, quick_remind_at, remind_at_local

CUSTOM = "custom"
CHOOSE = "Choose when to be reminded."


def _given(field) -> bool:
    return bool(field.raw_data and field.raw_data[0].strip())


class ReminderForm(FlaskForm):
    """`when` comes from the button pressed: a quick choice, or "custom" for the date and time."""

    when = StringField("When", validators=[Optional()])
    day = DayField("Remind me on", validators=[Optional()])
    at = ClockField("at", validators=[Optional()])

    @property
    def quick(self) -> bool:
        return self.when.data in QUICK_CHOICES

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.quick:
            return valid
        if self.when.data not in (None, "", CUSTOM):
            self.form_errors.append(CHOOSE)
            return False
        if not _given(self.day) and not _given(self.at):
            self.form_errors.append(CHOOSE)
            return False
        if self.day.data is None and not self.day.errors:
            self.day.errors.append("Enter the date to be reminded on.")
        if self.at.data is None and not self.at.errors:
            self.at.errors.append("Enter the time, for example 09:30.")
        return valid and self.day.data is not None and self.at.data is not None

    def remind_at(self, user: User, now: datetime | None = None) -> datetime:
        """The UTC moment chosen (call after validate()); ReminderError when nothing was chosen."""
        if self.quick:
            return quick_remind_at(self.when.data, user, now)
        if self.day.data is None or self.at.data is None:
            raise ReminderError(CHOOSE)
        return remind_at_local(self.day.data, self.at.data, user)
