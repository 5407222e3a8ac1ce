"""Reminders on a task, the notifications behind the bell, and one-click unsubscribe links."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_login import current_user, login_required

from ..access import task_or_404
from ..cache import cached_view
from ..extensions import csrf
from ..formatting import local_datetime
from ..models import MAX_ID, Task
from ..pagination import before_arg
from ..projects.services import assignable_projects
from ..responses import add_triggers, is_safe_path, render, safe_back, see_other, wants_fragment
from ..timezones import local_today
from . import services
from .forms import CUSTOM, ReminderForm
from .unsubscribe import Subscription, set_subscribed, subscription_for

bp = Blueprint("reminders", __name__)

ID = f"int(max={MAX_ID})"
SECTION = "reminders/_task_reminders.html"
NOTIFICATIONS_CHANGED = "notifications-changed"


# --- reminders on a task -------------------------------------------------------------------------


def reminders_section(task: Task, form: ReminderForm | None = None, error: str | None = None) -> dict:
    """What the Reminders section of the task and edit pages shows (SECTION, included there)."""
    if form is None:
        form = ReminderForm(formdata=None, day=local_today(current_user.timezone))
    return {
        "reminders": services.pending_reminders(task),
        "quick_choices": services.QUICK_CHOICES,
        "custom": CUSTOM,
        "reminder_form": form,
        "reminder_error": error,
    }


def _back_to_task(task: Task) -> str:
    target = request.form.get("next")
    return url_for("tasks.show", task_id=task.id, next=target if is_safe_path(target) else None)


def _reminders_changed(task: Task, message: str):
    """htmx gets the section again (and the message in #flash); a plain form goes to the task."""
    if wants_fragment():
        return render(SECTION, notice=message, task=task, back=safe_back(), **reminders_section(task))
    flash(message, "success")
    return see_other(_back_to_task(task))


def _reminder_rejected(task: Task, form: ReminderForm, error: str | None):
    if wants_fragment():
        return render(
            SECTION, status=422, task=task, back=safe_back(), **reminders_section(task, form, error)
        )
    return render(
        "tasks/show.html",
        status=422,
        task=task,
        back=safe_back(),
        projects=assignable_projects(current_user),
        **reminders_section(task, form, error),
    )


@bp.post(f"/tasks/<{ID}:task_id>/reminders")
@login_required
def add(task_id: int):
    task = task_or_404(current_user, task_id)
    form = ReminderForm()
    if not form.validate_on_submit():
        return _reminder_rejected(task, form, None)
    try:
        reminder = services.add_reminder(task, form.remind_at(current_user))
    except services.ReminderError as error:
        return _reminder_rejected(task, form, str(error))
    return _reminders_changed(
        task, f"We will remind you on {local_datetime(reminder.remind_at, current_user.timezone)}."
    )


@bp.post(f"/reminders/<{ID}:reminder_id>/delete")
@login_required
def remove(reminder_id: int):
    reminder = services.reminder_or_404(current_user, reminder_id)
    services.cancel_reminder(reminder)
    return _reminders_changed(
        reminder.task,
        f"Removed the reminder for {local_datetime(reminder.remind_at, current_user.timezone)}.",
    )


# --- notifications ----------------------------------------------------------------------------------

NOTIFICATIONS = "reminders/_notifications.html"
OLDER_NOTIFICATIONS = "reminders/_notification_items.html"


def _notifications_context(before: int | None = None) -> dict:
    page = services.notifications_page(current_user, before, current_app.config["NOTIFICATIONS_PAGE_SIZE"])
    older_url = url_for("reminders.notifications", before=page.older_than) if page.older_than else None
    return {
        "notifications": page.items,
        "older_url": older_url,
        "before": before,
        "back": url_for("reminders.notifications", before=before),
        "unread_notifications": services.unread_count(current_user),
    }


@bp.get("/notifications")
@login_required
def notifications():
    """The newest page, or with ?before=<id> the next older one (htmx appends just its items)."""
    before = before_arg("That “Older notifications” link is broken. Please open the notifications again.")
    fragment = OLDER_NOTIFICATIONS if before is not None else NOTIFICATIONS
    return render("reminders/notifications.html", fragment, **_notifications_context(before))


@bp.get("/notifications/count")
@login_required
@cached_view("bell", etag=True)
def notification_count():
    """The bell's badge, polled by htmx; a browser opening the URL gets the notifications page."""
    if not wants_fragment():
        return notifications()
    return render("reminders/_bell_badge.html", unread_notifications=services.unread_count(current_user))


@bp.get(f"/notifications/<{ID}:notification_id>/open")
@login_required
def open_notification(notification_id: int):
    """Follow a notification to what it is about (a path on this site), marking it read."""
    notification = services.read_notification(current_user, notification_id)
    target = notification.url if is_safe_path(notification.url) else url_for("reminders.notifications")
    return see_other(target)


def _tell_the_bell(response):
    """An htmx answer that changed what is unread: the bell refreshes its count."""
    return add_triggers(response, NOTIFICATIONS_CHANGED)


def _back_to_notifications(message: str):
    flash(message, "success")
    return see_other(safe_back(url_for("reminders.notifications")))


@bp.post(f"/notifications/<{ID}:notification_id>/read")
@login_required
def mark_read(notification_id: int):
    """htmx swaps in just that notification and the unread count: older pages stay in place."""
    notification = services.read_notification(current_user, notification_id)
    if not wants_fragment():
        return _back_to_notifications(f"Marked “{notification.title}” as read.")
    return _tell_the_bell(
        render(
            "reminders/_notification_marked.html",
            notification=notification,
            unread_notifications=services.unread_count(current_user),
        )
    )


@bp.post("/notifications/read")
@login_required
def mark_all_read():
    services.mark_all_read(current_user)
    if not wants_fragment():
        return _back_to_notifications("All notifications are marked as read.")
    return _tell_the_bell(render(NOTIFICATIONS, **_notifications_context()))


# --- one-click unsubscribe ------------------------------------------------------------------------


def _invalid_link():
    return render("reminders/unsubscribe_invalid.html", status=404)


def _is_owner(subscription: Subscription) -> bool:
    return current_user.is_authenticated and current_user.id == subscription.user.id


def _unsubscribed_page(subscription: Subscription, token: str, *, just_now: bool):
    return render(
        "reminders/unsubscribe.html",
        subscription=subscription,
        token=token,
        just_now=just_now,
        is_owner=_is_owner(subscription),
    )


@bp.get("/unsubscribe/<token>")
def unsubscribe(token: str):
    """Say what the link would switch off, with one button; opening it (GET, HEAD) changes nothing,
    so a mail scanner that fetches every link unsubscribes nobody."""
    subscription = subscription_for(token)
    if subscription is None:
        return _invalid_link()
    if not subscription.subscribed:
        return _unsubscribed_page(subscription, token, just_now=False)
    return render("reminders/unsubscribe_confirm.html", subscription=subscription, token=token)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe_one_click(token: str):
    """Switch the mail off: the page's button, or RFC 8058's one-click POST that mail clients send
    ("List-Unsubscribe=One-Click", no login, no CSRF token: the signed token is the credential)."""
    subscription = subscription_for(token)
    if subscription is None:
        return _invalid_link()
    set_subscribed(subscription, False)
    return _unsubscribed_page(subscription, token, just_now=True)


@bp.post("/unsubscribe/<token>/resubscribe")
@login_required
def resubscribe(token: str):
    subscription = subscription_for(token)
    if subscription is None or not _is_owner(subscription):
        abort(404)
    set_subscribed(subscription, True)
    flash(f"You will get {subscription.description} again.", "success")
    return see_other(url_for("auth.profile"))
