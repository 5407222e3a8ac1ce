"""Sending leased deliveries: compose each mail, send them over one connection, record each result.

A send job owns the deliveries leased to its token. It composes every mail first (reads only),
then sends one by one and records "sent" right after the SMTP server accepted the message, in
its own short transaction, so a crash loses at most the one message in flight — which is then
still pending and goes out when the lease runs out. Transient failures come back later with
backoff; after the last try the delivery is marked failed, with the error, and logged.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import Message

from flask import current_app, render_template
from sqlalchemy import select, update

from ..extensions import db
from ..mail import PermanentMailError, TransientMailError, build_message, open_mailer
from ..models import Status, Task, User
from ..timezones import local_day_bounds, now_utc
from .kinds import MailKind
from .models import Delivery, DeliveryState
from .unsubscribe import unsubscribe_url

log = logging.getLogger(__name__)

SUBJECTS = {
    MailKind.DUE_TOMORROW: "Due tomorrow: {count} task{plural}",
    MailKind.OVERDUE: "Overdue: {count} task{plural}",
    MailKind.WEEKLY_DIGEST: "Your week in Tasklane",
}
DIGEST_OPEN_SHOWN = 10


@dataclass
class Outgoing:
    delivery_id: int
    key: str
    message: Message | None  # None: nothing left to say (the task went away)


def _link(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def _open_tasks(user: User, *conditions) -> list[Task]:
    query = (
        select(Task)
        .where(Task.owner_id == user.id, Task.deleted_at.is_(None), Task.status != Status.DONE, *conditions)
        .order_by(Task.due_at, Task.id)
    )
    return list(db.session.scalars(query))


def _compose(delivery: Delivery, user: User, tasks_by_id: dict[int, Task]) -> Message | None:
    payload = json.loads(delivery.payload)
    kind = MailKind(delivery.kind)
    context = {"user": user, "zone": user.timezone, "link": _link, "tasks_url": _link("/tasks")}
    if kind == MailKind.REMINDER:
        task = tasks_by_id.get(payload["task_id"])
        if task is None or task.deleted_at is not None or task.done:
            return None
        subject = f"Reminder: {task.title}"
        context["task"] = task
    elif kind == MailKind.DUE_TOMORROW:
        day = date.fromisoformat(payload["day"])
        start, end = local_day_bounds(day, user.timezone)
        tasks = _open_tasks(user, Task.due_at >= start, Task.due_at < end)
        if not tasks:
            return None
        context.update(tasks=tasks, day=day)
        subject = SUBJECTS[kind].format(count=len(tasks), plural="" if len(tasks) == 1 else "s")
    elif kind == MailKind.OVERDUE:
        tasks = _open_tasks(user, Task.id.in_(payload["task_ids"]))
        if not tasks:
            return None
        context["tasks"] = tasks
        subject = SUBJECTS[kind].format(count=len(tasks), plural="" if len(tasks) == 1 else "s")
    else:
        week_start = date.fromisoformat(payload["week_start"])
        since, _ = local_day_bounds(week_start - timedelta(days=7), user.timezone)
        until, _ = local_day_bounds(week_start, user.timezone)
        completed = db.session.scalars(
            select(Task)
            .where(Task.owner_id == user.id, Task.deleted_at.is_(None), Task.completed_at >= since)
            .where(Task.completed_at < until)
            .order_by(Task.completed_at)
        ).all()
        still_open = _open_tasks(user)
        context.update(
            completed=completed, open_tasks=still_open[:DIGEST_OPEN_SHOWN], open_count=len(still_open)
        )
        subject = SUBJECTS[kind]
    context["unsubscribe"] = unsubscribe_url(user.id, kind.value)
    return build_message(
        user.email,
        subject,
        render_template(f"mail/{kind.value}.txt", **context),
        key=delivery.key,
        headers={
            "List-Unsubscribe": f"<{context['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


def _compose_leased(token: str, now: datetime) -> list[Outgoing]:
    rows = db.session.execute(
        select(Delivery, User)
        .join(User, User.id == Delivery.user_id)
        .where(
            Delivery.lease_token == token,
            Delivery.state == DeliveryState.PENDING,
            Delivery.lease_until > now,
        )
        .order_by(Delivery.id)
    ).all()
    reminder_task_ids = [
        json.loads(d.payload)["task_id"] for d, _ in rows if d.kind == MailKind.REMINDER.value
    ]
    tasks_by_id = {t.id: t for t in db.session.scalars(select(Task).where(Task.id.in_(reminder_task_ids)))}
    outgoing = [Outgoing(d.id, d.key, _compose(d, user, tasks_by_id)) for d, user in rows]
    db.session.commit()  # end the read before the first write (SQLite upgrades locks badly)
    return outgoing


DELIVERIES = Delivery.__table__.c


def _mine(delivery_id: int, token: str):
    """An UPDATE of one delivery this job still holds. Table-level, not ORM-enabled: it runs once
    per mail sent, and the ORM's bulk-update bookkeeping cost more than the statement."""
    return update(Delivery.__table__).where(
        DELIVERIES.id == delivery_id,
        DELIVERIES.lease_token == token,
        DELIVERIES.state == DeliveryState.PENDING,
    )


def _record_sent(item: Outgoing, token: str, state: DeliveryState = DeliveryState.SENT) -> None:
    message_id = item.message["Message-ID"] if item.message is not None else None
    db.session.execute(
        _mine(item.delivery_id, token).values(
            state=state, sent_at=now_utc(), message_id=message_id, lease_token=None, lease_until=None
        )
    )
    db.session.commit()


def _record_failure(item: Outgoing, token: str, error: Exception, *, permanent: bool) -> None:
    config = current_app.config
    delays = config["MAIL_RETRY_DELAYS"]
    attempts = db.session.scalar(select(Delivery.attempts).where(Delivery.id == item.delivery_id)) + 1
    give_up = permanent or attempts >= len(delays) + 1
    values = {"attempts": attempts, "last_error": str(error)[:2000], "lease_token": None, "lease_until": None}
    if give_up:
        values["state"] = DeliveryState.FAILED
        log.error(
            "delivery %s (%s) failed after %s attempt(s): %s", item.delivery_id, item.key, attempts, error
        )
    else:
        values["not_before"] = now_utc() + timedelta(seconds=delays[attempts - 1])
        log.warning("delivery %s (%s) will be retried: %s", item.delivery_id, item.key, error)
    db.session.execute(_mine(item.delivery_id, token).values(**values))
    db.session.commit()


def _renew_lease(token: str) -> None:
    lease = timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
    db.session.execute(
        update(Delivery)
        .where(Delivery.lease_token == token, Delivery.state == DeliveryState.PENDING)
        .values(lease_until=now_utc() + lease)
    )
    db.session.commit()


def send_leased(token: str) -> dict[str, int]:
    """Send the deliveries leased to `token`; returns how many were sent, retried, failed."""
    outgoing = _compose_leased(token, now_utc())
    counts = {"sent": 0, "skipped": 0, "retry": 0, "failed": 0}
    renew_every = current_app.config["DELIVERY_LEASE_SECONDS"] / 3
    renew_at = time.monotonic() + renew_every
    with open_mailer() as mailer:
        for item in outgoing:
            if time.monotonic() > renew_at:
                _renew_lease(token)
                renew_at = time.monotonic() + renew_every
            if item.message is None:
                _record_sent(item, token, DeliveryState.SKIPPED)
                counts["skipped"] += 1
                continue
            try:
                mailer.send(item.message)
            except TransientMailError as error:
                _record_failure(item, token, error, permanent=False)
                counts["retry"] += 1
            except PermanentMailError as error:
                _record_failure(item, token, error, permanent=True)
                counts["failed"] += 1
            else:
                _record_sent(item, token)
                counts["sent"] += 1
    return counts
