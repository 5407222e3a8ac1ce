"""Project forms: one name field, used to create and to rename."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..forms import single_line, strip


class ProjectForm(FlaskForm):
    name = StringField(
        "Project name",
        filters=[strip],
        validators=[
            DataRequired("Give the project a name."),
            Length(max=80, message="A project name can be at most 80 characters."),
            single_line,
        ],
    )
