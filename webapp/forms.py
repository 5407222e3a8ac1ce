"""Form pieces every feature shares."""

from __future__ import annotations

from wtforms import DateField, TimeField
from wtforms.validators import ValidationError

from .text import CONTROL_CHARACTERS
from .timezones import FIRST_DAY, LAST_DAY

ONE_LINE_MESSAGE = "Use one line of text, without line breaks, tabs or other control characters."


def strip(value: str | None) -> str | None:
    """Drop surrounding whitespace, so "  " counts as empty."""
    return value.strip() if isinstance(value, str) else value


def single_line(form, field) -> None:
    """A validator for one-line fields (titles, names, tags): no line breaks or control characters."""
    if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError(ONE_LINE_MESSAGE)


class DayField(DateField):
    """A day a person picks (a due date, a reminder's day), within what every zone can show: the
    browser's date picker offers only those, and the server refuses the others."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("render_kw", {"min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()})
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Enter a real date as YYYY-MM-DD, for example 2026-03-14.") from error
        if self.data is not None and not FIRST_DAY <= self.data <= LAST_DAY:
            self.data = None
            raise ValueError(f"Enter a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.")


class ClockField(TimeField):
    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError("Enter a time as HH:MM, for example 09:30.") from error
