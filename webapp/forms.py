"""Form pieces every feature shares."""

from __future__ import annotations

from wtforms.validators import ValidationError

from .text import CONTROL_CHARACTERS

ONE_LINE_MESSAGE = "Use one line of text, without line breaks, tabs or other control characters."


def strip(value: str | None) -> str | None:
    """Drop surrounding whitespace, so "  " counts as empty."""
    return value.strip() if isinstance(value, str) else value


def single_line(form, field) -> None:
    """A validator for one-line fields (titles, names, tags): no line breaks or control characters."""
    if isinstance(field.data, str) and CONTROL_CHARACTERS.search(field.data):
        raise ValidationError(ONE_LINE_MESSAGE)
