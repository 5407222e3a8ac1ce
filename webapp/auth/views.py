"""Sign-up, log in/out, profile, password change and reset, and the development outbox."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape

from ..limits import limit_per_address, limit_per_email, login_failed
from ..mail import outbox_message, outbox_messages
from ..origin import anonymous_form
from ..responses import after_response, is_safe_path, render, see_other
from . import services
from .forms import ChangePasswordForm, LoginForm, ProfileForm, ResetPasswordForm, ResetRequestForm, SignupForm
from .sessions import (
    current_session_remembered,
    end_other_sessions,
    end_session,
    other_sessions,
    start_session,
)

bp = Blueprint("auth", __name__)

INVALID = 422
LOGIN_FAILED = "That e-mail and password do not match an account. Please try again."
RESET_SENT = "If an account exists for that address, we have sent a link to reset the password."
RESET_LINK_INVALID = "This link has expired or was already used."


def _next_target() -> str | None:
    target = request.args.get("next")
    return target if is_safe_path(target) else None


@bp.route("/signup", methods=["GET", "POST"])
@limit_per_address("RATELIMIT_SIGNUP_PER_ADDRESS")
@limit_per_email("RATELIMIT_SIGNUP_PER_EMAIL")
@anonymous_form
def signup():
    if current_user.is_authenticated:
        return see_other(url_for("dashboard.home"))
    form = SignupForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.create_account(
                form.email.data, form.password.data, form.display_name.data, form.timezone.data
            )
        except services.EmailTaken:
            form.email.errors.append("An account with this e-mail address already exists. Log in instead?")
            status = 409
        else:
            start_session(user)
            flash(f"Welcome to Tasklane, {user.display_name}!", "success")
            return see_other(url_for("dashboard.home"))
    elif form.is_submitted():
        status = INVALID
    return render("auth/signup.html", "auth/_signup_form.html", form=form, status=status)


@bp.route("/login", methods=["GET", "POST"])
@limit_per_address("RATELIMIT_LOGIN_PER_ADDRESS")
@limit_per_email("RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT", deduct_when=login_failed)
@anonymous_form
def login():
    target = _next_target()
    if current_user.is_authenticated:
        return see_other(target or url_for("dashboard.home"))
    form = LoginForm()
    status = 200
    error = None
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            start_session(user, remember=form.remember.data)
            return see_other(target or url_for("dashboard.home"))
        error = LOGIN_FAILED
        status = INVALID
    elif form.is_submitted():
        status = INVALID
    return render(
        "auth/login.html", "auth/_login_form.html", form=form, error=error, next=target, status=status
    )


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        end_session(current_user)
    flash("You are logged out.", "success")
    return see_other(url_for("auth.login"))


def _profile_page(profile_form: ProfileForm, password_form: ChangePasswordForm, status: int, fragment: str):
    return render(
        "auth/profile.html",
        fragment,
        profile_form=profile_form,
        password_form=password_form,
        other_sessions=other_sessions(current_user),
        status=status,
    )


@bp.post("/profile/sessions/others/end")
@login_required
def end_others():
    ended = end_other_sessions(current_user)
    flash(f"Logged out {ended} other {'browser' if ended == 1 else 'browsers'}.", "success")
    return see_other(url_for("auth.profile"))


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    profile_form = ProfileForm(obj=current_user)
    if profile_form.validate_on_submit():
        services.update_profile(
            current_user,
            profile_form.display_name.data,
            profile_form.timezone.data,
            profile_form.mail_preferences(),
        )
        flash("Your profile is saved.", "success")
        return see_other(url_for("auth.profile"))
    status = INVALID if profile_form.is_submitted() else 200
    return _profile_page(profile_form, ChangePasswordForm(formdata=None), status, "auth/_profile_form.html")


@bp.post("/profile/password")
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if services.check_password(current_user, form.current_password.data):
            remember = current_session_remembered(current_user)
            user = current_user._get_current_object()
            services.change_password(user, form.password.data)
            start_session(user, remember=remember)
            flash("Your password is changed. You are logged out everywhere else.", "success")
            return see_other(url_for("auth.profile"))
        form.current_password.errors.append("That is not your current password.")
    profile_form = ProfileForm(formdata=None, obj=current_user)
    return _profile_page(profile_form, form, INVALID, "auth/_password_form.html")


@bp.route("/reset", methods=["GET", "POST"])
@limit_per_address("RATELIMIT_RESET_PER_ADDRESS")
@limit_per_email("RATELIMIT_RESET_PER_EMAIL")
@anonymous_form
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        # Looking the address up after answering: known and unknown addresses answer alike, in
        # the same time, and the answer never waits on the database or Redis.
        response = render("auth/reset_request.html", "auth/_reset_sent.html", sent=True, message=RESET_SENT)
        return after_response(response, partial(services.request_password_reset, form.email.data))
    status = INVALID if form.is_submitted() else 200
    return render("auth/reset_request.html", "auth/_reset_request_form.html", form=form, status=status)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_confirm(token: str):
    if services.valid_reset_token(token) is None:
        return render(
            "auth/reset_invalid.html", "auth/_reset_invalid.html", message=RESET_LINK_INVALID, status=400
        )
    form = ResetPasswordForm()
    if form.validate_on_submit():
        user = services.reset_password(token, form.password.data)
        if user is None:  # used or expired between the check and now
            return render(
                "auth/reset_invalid.html", "auth/_reset_invalid.html", message=RESET_LINK_INVALID, status=400
            )
        if current_user.is_authenticated:  # whoever was signed in in this browser: their session ends
            end_session(current_user)
        start_session(user)
        flash("Your password is changed and you are logged in. Other devices were logged out.", "success")
        return see_other(url_for("dashboard.home"))
    status = INVALID if form.is_submitted() else 200
    return render(
        "auth/reset_confirm.html", "auth/_reset_confirm_form.html", form=form, token=token, status=status
    )


def _outbox_dir() -> Path:
    """The development outbox exists only without MAIL_URL, and never in production."""
    config = current_app.config
    if config.get("MAIL_URL") or config.get("ENV_NAME") == "production":
        abort(404)
    return Path(config["OUTBOX_DIR"])


@bp.get("/outbox")
def outbox():
    return render("auth/outbox.html", messages=outbox_messages(_outbox_dir()))


@bp.get("/outbox/<name>", endpoint="outbox_message")
def outbox_message_page(name: str):
    message = outbox_message(_outbox_dir(), name)
    if message is None:
        abort(404)
    return render("auth/outbox_message.html", message=message)


_URL = re.compile(r"https?://[^\s<>\"']+")


@bp.app_template_filter("linkify")
def linkify(text: str) -> Markup:
    """Plain text with its http(s) URLs as links; everything is escaped."""
    parts = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        parts.append(escape(text[position : match.start()]))
        parts.append(Markup('<a href="{0}">{0}</a>').format(url))
        position = match.start() + len(url)
    parts.append(escape(text[position:]))
    return Markup("").join(parts)
