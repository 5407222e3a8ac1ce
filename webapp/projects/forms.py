"""Project forms: one name field, used to create and to rename."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length


def strip(value: str | None) -> str | None:
    """Collapse surrounding whitespace so "  " counts as empty."""
    return value.strip() if isinstance(value, str) else value


class ProjectForm(FlaskForm):
    name = StringField(
        "Project name",
        filters=[strip],
        validators=[
            DataRequired("Give the project a name."),
            Length(max=80, message="A project name can be at most 80 characters."),
        ],
    )
