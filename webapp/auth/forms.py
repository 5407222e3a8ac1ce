"""Account forms. Every message says what to do about it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Form, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, InputRequired, Length, ValidationError

from ..forms import single_line, strip
from ..reminders.kinds import SWITCHABLE
from ..timezones import all_timezones, is_timezone, known_timezone
from .services import MAIL_PREFERENCES, is_common_password

PASSWORD_MIN = 12
PASSWORD_MAX = 128
ACCEPTED_PASSWORD_MAX = 256  # what logging in takes: passwords set before the 128 limit still work


def _not_common(form, field) -> None:
    if field.data and is_common_password(field.data):
        raise ValidationError("That password is one of the most common ones: choose another.")


def _known_timezone(form, field) -> None:
    if not is_timezone(field.data or ""):
        raise ValidationError("Choose a time zone from the list.")


def _email_field() -> EmailField:
    return EmailField(
        "E-mail",
        filters=[strip],
        validators=[
            DataRequired("Enter your e-mail address."),
            Length(max=254, message="That e-mail address is too long."),
            single_line,
            Email("Enter an e-mail address like name@example.com.", check_deliverability=False),
        ],
        render_kw={"autocomplete": "email"},
    )


def _new_password_fields(label: str) -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label,
        validators=[
            InputRequired("Choose a password."),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Use between {PASSWORD_MIN} and {PASSWORD_MAX} characters.",
            ),
            _not_common,
        ],
        description=f"At least {PASSWORD_MIN} characters. A few unrelated words make a strong password.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            InputRequired("Repeat the password."),
            EqualTo("password", "The two passwords do not match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


def _display_name_field() -> StringField:
    return StringField(
        "Your name",
        filters=[strip],
        validators=[
            DataRequired("Enter the name we should show."),
            Length(max=80, message="Use at most 80 characters."),
            single_line,
        ],
        render_kw={"autocomplete": "name"},
    )


def _timezone_field() -> SelectField:
    return SelectField(
        "Time zone",
        choices=[SelectChoice(name, name.replace("_", " ")) for name in all_timezones()],
        default="UTC",
        validate_choice=False,
        validators=[_known_timezone],
    )


def _as_known_zone(typed: str | None) -> str | None:
    return known_timezone(typed or "") or typed


def _timezone_text_field() -> StringField:
    """A text field with the zones as suggestions (a datalist): searchable, and without
    JavaScript still a plain field that takes any zone typed out."""
    return StringField(
        "Time zone",
        filters=[strip, _as_known_zone],
        validators=[DataRequired("Type your time zone, e.g. Europe/Paris."), _named_timezone],
        render_kw={"list": "timezones", "autocomplete": "off", "spellcheck": "false", "maxlength": 64},
    )


def _named_timezone(form, field) -> None:
    if not is_timezone(field.data or ""):
        raise ValidationError(
            f"“{field.data[:64]}” is not a time zone we know. Type a region and a city from the list, "
            "e.g. Europe/Paris or America/New_York."
        )


class AnonymousForm(FlaskForm):
    """Posted by visitors who are not signed in: checked by origin (webapp/origin.py), so the
    page carries no token and sets no cookie."""

    class Meta:
        csrf = False


class SignupForm(AnonymousForm):
    email = _email_field()
    password, confirm = _new_password_fields("Password")
    display_name = _display_name_field()
    timezone = _timezone_field()


class LoginForm(AnonymousForm):
    email = EmailField(
        "E-mail",
        filters=[strip],
        validators=[DataRequired("Enter your e-mail address."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=ACCEPTED_PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    remember = BooleanField("Keep me logged in on this device")


class ProfileForm(FlaskForm):
    display_name = _display_name_field()
    timezone = _timezone_text_field()
    # One tick box per mail kind that can be switched off, named after its User column (below).

    @property
    def mail_switches(self) -> list[BooleanField]:
        return [self[name] for name in MAIL_PREFERENCES]

    def mail_preferences(self) -> dict[str, bool]:
        """Which mails the user wants, by User column (an unticked box is False)."""
        return {name: bool(self[name].data) for name in MAIL_PREFERENCES}


for _kind in SWITCHABLE:
    setattr(ProfileForm, _kind.preference, BooleanField(_kind.label))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[InputRequired("Enter your current password."), Length(max=ACCEPTED_PASSWORD_MAX)],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields("New password")


class ResetRequestForm(AnonymousForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields("New password")


class NewAccountRules(Form):
    """Sign-up's rules for an address and a password, for accounts made outside a browser (the
    `flask users create-admin` command): the same fields, so the same checks and messages."""

    email = _email_field()
    password, confirm = _new_password_fields("Password")
