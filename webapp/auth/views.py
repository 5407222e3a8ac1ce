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
from ..reminders.dispatch import request_hand_out
from ..responses import after_response, is_safe_path, render, safe_back, see_other, wants_fragment
from ..tasks.zone_change import ZoneChange, preview_zone_change
from ..timezones import all_timezones
from . import addresses, services
from .addresses import LinkState
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
ACCOUNT_DEACTIVATED = "This account has been deactivated. Please contact the people who run this Tasklane."
RESET_SENT = "If an account exists for that address, we have sent a link to reset the password."
RESET_LINK_INVALID = "This link has expired or was already used."
LINK_SENT = "We sent a new link to {email}. It can take a minute to arrive."
LINKS_ENOUGH = "We have sent several links in the last hour: please use the newest one, or try again later."
ADDRESS_CONFIRMED = "Your address is confirmed."
# What a confirmation link that cannot confirm says, and answers.
CONFIRM_LINK_PROBLEM = {
    LinkState.EXPIRED: ("This link has expired.", 410),
    LinkState.UNKNOWN: ("This link does not work: it may have been copied incompletely.", 404),
}


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
    if form.validate_on_submit():
        # A new address and one that has an account get the same answer, after the same work
        # (a password hash, one mail planned): nobody learns which addresses have an account.
        addresses.sign_up(form.email.data, form.password.data, form.display_name.data, form.timezone.data)
        return after_response(see_other(url_for("auth.check_inbox")), request_hand_out)
    status = INVALID if form.is_submitted() else 200
    return render("auth/signup.html", "auth/_signup_form.html", form=form, status=status)


@bp.get("/signup/check-inbox")
def check_inbox():
    return render("auth/check_inbox.html")


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
@anonymous_form
def confirm_email(token: str):
    """The link in the confirmation mail shows a button: an address is confirmed by its owner
    pressing it, not by a mail scanner that opens every link."""
    if request.method == "POST" and addresses.confirm_with(token):
        return see_other(url_for("auth.email_confirmed"))
    state = addresses.link_state(token)
    if state is LinkState.USABLE:
        return render("auth/confirm_email.html", token=token)
    if state is LinkState.CONFIRMED:
        return render("auth/email_confirmed.html", already=True)
    return _link_problem(state, token)


def _link_problem(state: LinkState, token: str):
    message, status = CONFIRM_LINK_PROBLEM[state]
    return render("auth/confirm_problem.html", message=message, token=token, state=state, status=status)


@bp.post("/email/confirm/<token>/new-link")
@anonymous_form
def new_confirmation_link(token: str):
    """From the page of an expired link: a new link to the same address."""
    if not addresses.send_new_link(token):
        return _link_problem(LinkState.UNKNOWN, token)
    return after_response(see_other(url_for("auth.check_inbox")), request_hand_out)


@bp.get("/email/confirmed")
def email_confirmed():
    return render("auth/email_confirmed.html", already=False)


@bp.post("/email/send-again")
@login_required
def send_confirmation_again():
    """The banner's "Send again", for a signed-in user whose address is not confirmed yet."""
    user = current_user._get_current_object()
    sent = addresses.send_confirmation_again(user)
    if sent:
        message = LINK_SENT.format(email=user.email)
    else:
        message = LINKS_ENOUGH if user.email_verified_at is None else ADDRESS_CONFIRMED
    if wants_fragment():
        response = render("auth/_confirm_banner.html", sent_message=message)
    else:
        flash(message, "success" if sent else "info")
        response = see_other(safe_back(url_for("dashboard.home")))
    return after_response(response, request_hand_out) if sent else response


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
        try:
            user = services.authenticate(form.email.data, form.password.data)
        except services.AccountDeactivated:
            user, error = None, ACCOUNT_DEACTIVATED
        if user is not None:
            start_session(user, remember=form.remember.data)
            return see_other(target or url_for("dashboard.home"))
        error = error or LOGIN_FAILED
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
        zones=all_timezones(),
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
        new_zone = profile_form.timezone.data
        change = preview_zone_change(current_user, new_zone) if new_zone != current_user.timezone else None
        if change and change.moves_anything and request.form.get("confirm_zone") != new_zone:
            # Say what moves before anything does; the answer posts the same form, confirmed.
            return render(
                "auth/zone_change.html", "auth/_zone_change.html", profile_form=profile_form, change=change
            )
        services.update_profile(
            current_user,
            profile_form.display_name.data,
            new_zone,
            profile_form.mail_preferences(),
        )
        flash(f"Your profile is saved.{_zone_change_said(change)}", "success")
        return see_other(url_for("auth.profile"))
    status = INVALID if profile_form.is_submitted() else 200
    return _profile_page(profile_form, ChangePasswordForm(formdata=None), status, "auth/_profile_form.html")


def _zone_change_said(change: ZoneChange | None) -> str:
    if change is None:
        return ""
    said = f" Your time zone is now {change.new_zone}."
    if change.moves_anything:
        said += (
            " Tasks with a due time keep their moment (their clock time changed);"
            " all-day tasks keep their date."
        )
    return said


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
