"""Reminders on tasks and the in-app notifications a user reads."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import abort
from sqlalchemy import func, select, update

from ..access import visible_reminders
from ..cache import notifications_changed, tasks_changed
from ..extensions import db
from ..models import Task, User
from ..pagination import Page, newest_first
from ..replica import reading
from ..timezones import local_to_utc, local_today, now_utc, shifted
from .models import Notification, Reminder, ReminderState

MORNING = time(9, 0)
QUICK_CHOICES = {"30m": "In 30 minutes", "1h": "In 1 hour", "tomorrow": "Tomorrow at 09:00"}
MAX_PENDING_PER_TASK = 20


class ReminderError(ValueError):
    """A reminder we cannot set; the message says why."""


def quick_remind_at(choice: str, user: User, now: datetime | None = None) -> datetime:
    now = now or now_utc()
    if choice == "30m":
        return now + timedelta(minutes=30)
    if choice == "1h":
        return now + timedelta(hours=1)
    if choice == "tomorrow":
        return local_to_utc(local_today(user.timezone, now) + timedelta(days=1), MORNING, user.timezone)
    raise ReminderError("Choose when to be reminded.")


def remind_at_local(day: date, at: time, user: User) -> datetime:
    return local_to_utc(day, at, user.timezone)


def add_reminder(task: Task, remind_at: datetime, now: datetime | None = None) -> Reminder:
    """A new pending reminder on a task the caller already looked up through the access rule."""
    if remind_at <= (now or now_utc()):
        raise ReminderError("That time has already passed. Choose a time in the future.")
    if task.done:
        raise ReminderError("This task is done; reopen it to set a reminder.")
    if len(pending_reminders(task)) >= MAX_PENDING_PER_TASK:
        raise ReminderError(f"A task can have at most {MAX_PENDING_PER_TASK} reminders.")
    reminder = Reminder(task_id=task.id, owner_id=task.owner_id, remind_at=remind_at)
    db.session.add(reminder)
    tasks_changed(task.owner_id)
    db.session.commit()
    return reminder


def pending_reminders(task: Task) -> list[Reminder]:
    query = (
        select(Reminder)
        .where(Reminder.task_id == task.id, Reminder.state == ReminderState.PENDING)
        .order_by(Reminder.remind_at, Reminder.id)
    )
    return list(db.session.scalars(query))


def reminder_or_404(user: User, reminder_id: int) -> Reminder:
    reminder = db.session.scalar(visible_reminders(user).where(Reminder.id == reminder_id))
    if reminder is None:
        abort(404)
    return reminder


def cancel_reminder(reminder: Reminder) -> None:
    if reminder.state == ReminderState.PENDING:
        reminder.state = ReminderState.CANCELLED
        tasks_changed(reminder.owner_id)
        db.session.commit()


def _move_task_reminders(task: Task, old: ReminderState, new: ReminderState, *conditions) -> None:
    db.session.execute(
        update(Reminder)
        .where(Reminder.task_id == task.id, Reminder.state == old, *conditions)
        .values(state=new)
        .execution_options(synchronize_session=False)
    )


def cancel_task_reminders(task: Task) -> None:
    """Completing a task: its pending reminders will never fire (caller commits)."""
    _move_task_reminders(task, ReminderState.PENDING, ReminderState.CANCELLED)


def set_aside_task_reminders(task: Task) -> None:
    """Deleting a task: its pending reminders wait with it in the bin, unsent (caller commits)."""
    _move_task_reminders(task, ReminderState.PENDING, ReminderState.WITH_DELETED_TASK)


def bring_back_task_reminders(task: Task, now: datetime | None = None) -> None:
    """Restoring a task: the reminders its deletion set aside are pending again if their time is
    still ahead; those whose time passed while it was deleted are cancelled, never sent late
    (caller commits)."""
    now = now or now_utc()
    aside = ReminderState.WITH_DELETED_TASK
    _move_task_reminders(task, aside, ReminderState.PENDING, Reminder.remind_at > now)
    _move_task_reminders(task, aside, ReminderState.CANCELLED)


def shift_task_reminders(task: Task, delta: timedelta) -> None:
    """The task's due time moved by `delta`: its pending reminders move with it, as far as the
    calendar goes (caller commits)."""
    if not delta:
        return
    for reminder in pending_reminders(task):
        reminder.remind_at = shifted(reminder.remind_at, delta)


def unread_count(user: User) -> int:
    query = select(func.count()).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    with reading(user):
        return db.session.scalar(query) or 0


def notifications_page(user: User, before: int | None, page_size: int) -> Page[Notification]:
    """The user's notifications, newest first, with ids below `before` (all when None): a keyset
    page that walks ix_notifications_user_id_id, never OFFSET, however far back it goes."""
    query = select(Notification).where(Notification.user_id == user.id)
    return newest_first(query, Notification.id, before, page_size)


def mark_all_read(user: User) -> None:
    query = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    db.session.execute(query.values(read_at=now_utc()).execution_options(synchronize_session=False))
    notifications_changed([user.id])
    db.session.commit()


def notification_or_404(user: User, notification_id: int) -> Notification:
    """One of the user's own notifications; another user's id is a 404."""
    query = select(Notification).where(Notification.user_id == user.id, Notification.id == notification_id)
    notification = db.session.scalar(query)
    if notification is None:
        abort(404)
    return notification


def read_notification(user: User, notification_id: int) -> Notification:
    """One of the user's notifications, read from now on (opened, or marked read)."""
    notification = notification_or_404(user, notification_id)
    if notification.read_at is None:
        notification.read_at = now_utc()
        notifications_changed([user.id])
        db.session.commit()
    return notification
