"""One small composer per kind of mail: what a delivery says, in its recipient's time zone.

A composer takes the delivery's payload and its recipient and returns a Draft (subject and
template context; the template is mail/<kind>.txt) or None when nothing is left to say (the task
was done or deleted meanwhile). `compose` turns a draft into a MIME message with the headers every
mail of that kind carries.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import Message

from flask import current_app, render_template
from sqlalchemy import select

from ..auth.addresses import issue_confirmation_token
from ..auth.services import issue_reset_token
from ..extensions import db
from ..links import absolute_url
from ..mail import build_message
from ..models import TASK_OPEN, Task, User
from ..timezones import local_day_bounds
from .kinds import MailKind
from .models import Delivery
from .unsubscribe import unsubscribe_url

DIGEST_OPEN_SHOWN = 10
# These have a mail/<kind>.html part besides the text: mail about the account, with its link.
WITH_HTML = {MailKind.PASSWORD_RESET, MailKind.EMAIL_CONFIRMATION, MailKind.SIGNUP_ATTEMPT}


@dataclass
class Draft:
    subject: str
    context: dict = field(default_factory=dict)


@dataclass
class Batch:
    """What the composers of one send job share, each loaded in one query rather than one per mail:
    the reminded tasks still open, and each daily mail's open tasks due on its day."""

    tasks_by_id: dict[int, Task]
    due_on_day: dict[tuple[int, date], list[Task]]  # (user id, day) -> open tasks due that day

    @classmethod
    def load(cls, rows: list[tuple[Delivery, User]]) -> Batch:
        return cls(_reminded_tasks(rows), _tasks_due_on_their_day(rows))


def _reminded_tasks(rows: list[tuple[Delivery, User]]) -> dict[int, Task]:
    """The open tasks this batch's reminders are about."""
    reminders = [delivery for delivery, _ in rows if delivery.kind == MailKind.REMINDER.value]
    task_ids = {_payload_field(delivery, "task_id", int) for delivery in reminders} - {None}
    return {task.id: task for task in _open_tasks(Task.id.in_(task_ids))} if task_ids else {}


def _payload_field(delivery: Delivery, name: str, parse: Callable):
    """A field of the payload, parsed; None for a payload its composer will refuse (and fail alone)."""
    try:
        return parse(json.loads(delivery.payload)[name])
    except (ValueError, KeyError, TypeError):
        return None


def _tasks_due_on_their_day(rows: list[tuple[Delivery, User]]) -> dict[tuple[int, date], list[Task]]:
    """For each daily mail, its recipient's open tasks due on the mail's day in their own zone: one
    query per day and zone (a batch is mostly one of each: planning goes zone by zone)."""
    recipients: dict[tuple[date, str], list[int]] = defaultdict(list)
    for delivery, user in rows:
        if delivery.kind == MailKind.DUE_TOMORROW.value and (
            day := _payload_field(delivery, "day", date.fromisoformat)
        ):
            recipients[day, user.timezone].append(user.id)
    found: dict[tuple[int, date], list[Task]] = defaultdict(list)
    for (day, zone), user_ids in recipients.items():
        start, end = local_day_bounds(day, zone)
        for task in _open_tasks(Task.owner_id.in_(user_ids), Task.due_at >= start, Task.due_at < end):
            found[task.owner_id, day].append(task)
    return found


Composer = Callable[[dict, User, Delivery, Batch], Draft | None]


def _counted(template: str, count: int) -> str:
    return template.format(count=count, s="" if count == 1 else "s")


def _open_tasks(*conditions) -> list[Task]:
    query = select(Task).where(TASK_OPEN, *conditions).order_by(Task.due_at, Task.id)
    return list(db.session.scalars(query))


def _reminder(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft | None:
    task = batch.tasks_by_id.get(payload["task_id"])
    if task is None:  # done or deleted meanwhile
        return None
    return Draft(f"Reminder: {task.title}", {"task": task})


def _due_tomorrow(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft | None:
    day = date.fromisoformat(payload["day"])
    tasks = batch.due_on_day.get((user.id, day))
    if not tasks:
        return None
    return Draft(_counted("Due tomorrow: {count} task{s}", len(tasks)), {"tasks": tasks, "day": day})


def _overdue(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft | None:
    tasks = _open_tasks(Task.owner_id == user.id, Task.id.in_(payload["task_ids"]))
    if not tasks:
        return None
    return Draft(_counted("Overdue: {count} task{s}", len(tasks)), {"tasks": tasks})


def _weekly_digest(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft:
    week_start = date.fromisoformat(payload["week_start"])
    since, _ = local_day_bounds(week_start - timedelta(days=7), user.timezone)
    until, _ = local_day_bounds(week_start, user.timezone)
    completed = db.session.scalars(
        select(Task)
        .where(Task.owner_id == user.id, Task.deleted_at.is_(None), Task.completed_at >= since)
        .where(Task.completed_at < until)
        .order_by(Task.completed_at)
    ).all()
    still_open = _open_tasks(Task.owner_id == user.id)
    return Draft(
        "Your week in Tasklane",
        {"completed": completed, "open_tasks": still_open[:DIGEST_OPEN_SHOWN], "open_count": len(still_open)},
    )


def _password_reset(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft:
    token, minutes = issue_reset_token(user, delivery.key)
    return Draft(
        "Reset your Tasklane password",
        {"link": absolute_url("auth.reset_confirm", token=token), "minutes": minutes},
    )


def _email_confirmation(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft | None:
    if user.email_verified_at is not None or payload["email"] != user.email:
        return None  # confirmed meanwhile, or no longer the user's address
    token, hours = issue_confirmation_token(user, delivery.key, payload["email"])
    return Draft(
        "Confirm your address for Tasklane",
        {"link": absolute_url("auth.confirm_email", token=token), "hours": hours},
    )


def _signup_attempt(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft:
    return Draft(
        "Someone tried to sign up with your address",
        {"login": absolute_url("auth.login"), "reset": absolute_url("auth.reset_request")},
    )


def _ops_alert(payload: dict, user: User, delivery: Delivery, batch: Batch) -> Draft:
    if payload["state"] == "raised":
        subject = f"Tasklane alert: {payload['check']} {payload['problem']}"
    else:
        subject = f"Tasklane recovered: {payload['check']} ok again"
    return Draft(subject[:200], {**payload, "admin": absolute_url("admin.index")})


COMPOSERS: dict[MailKind, Composer] = {
    MailKind.REMINDER: _reminder,
    MailKind.DUE_TOMORROW: _due_tomorrow,
    MailKind.OVERDUE: _overdue,
    MailKind.WEEKLY_DIGEST: _weekly_digest,
    MailKind.PASSWORD_RESET: _password_reset,
    MailKind.EMAIL_CONFIRMATION: _email_confirmation,
    MailKind.SIGNUP_ATTEMPT: _signup_attempt,
    MailKind.OPS_ALERT: _ops_alert,
}


def _unsubscribe_headers(link: str | None) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe, for mail the user can switch off."""
    if link is None:
        return {}
    return {"List-Unsubscribe": f"<{link}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def compile_templates() -> None:
    """Compile every mail template now, in a worker before it forks: each send job's work horse
    then finds them compiled instead of compiling the ones it uses again (tens of milliseconds)."""
    env = current_app.jinja_env
    for name in env.list_templates(filter_func=lambda name: name.startswith("mail/")):
        env.get_template(name)


def compose(delivery: Delivery, user: User, batch: Batch) -> Message | None:
    """The message for one delivery, or None when there is nothing left to say (or nobody has
    shown the address to be theirs, and the mail is about tasks)."""
    kind = MailKind(delivery.kind)
    if kind.needs_confirmed_address and user.email_verified_at is None:
        return None
    draft = COMPOSERS[kind](json.loads(delivery.payload), user, delivery, batch)
    if draft is None:
        return None
    unsubscribe = unsubscribe_url(user.id, kind.value) if kind.preference is not None else None
    context = {
        "user": user,
        "zone": user.timezone,
        "task_url": lambda task: absolute_url("tasks.show", task_id=task.id),
        "tasks_url": absolute_url("tasks.index"),
        "unsubscribe": unsubscribe,
        **draft.context,
    }
    headers = {"Auto-Submitted": "auto-generated", **_unsubscribe_headers(unsubscribe)}
    return build_message(
        user.email,
        draft.subject,
        render_template(f"mail/{kind.value}.txt", **context),
        html=render_template(f"mail/{kind.value}.html", **context) if kind in WITH_HTML else None,
        key=delivery.key,
        headers=headers,
    )
