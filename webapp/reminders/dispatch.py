"""Planning what to send: the sweep that turns due work into deliveries, and leases them to jobs.

Every step is a claim that can run any number of times, from any number of schedulers, and
still plan each mail once:
- a due reminder is claimed by an UPDATE … WHERE state = 'pending', and its delivery and
  notification are inserted under a unique key in the same transaction;
- a user's daily and weekly mails are claimed by moving `*_planned_on` to their local date;
- an overdue task is claimed by moving `overdue_reminded_on` to the owner's local date.
Leasing hands pending deliveries to send jobs in batches; a lease that runs out (a killed worker,
a Redis restart, a lost job) makes the delivery available to the next sweep again.
Users' daily and weekly mails are claimed and planned a batch at a time, each batch handed out
to send jobs at once, so the first mails of a 09:00 flood go out while the rest is planned.
Mail goes only to users who want it and whose address is confirmed (`_wants`); an unconfirmed
user's reminders still show in the app.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jobs import PLANNING_QUEUE

from ..cache import notifications_changed
from ..extensions import db, queues
from ..links import site_path
from ..models import ADDRESS_CONFIRMED, TASK_OPEN, Task, User
from ..timezones import local_day_bounds, local_to_utc, monday_of, now_utc, to_local
from .kinds import BULK, URGENT, MailKind
from .models import Delivery, DeliveryState, Notification, Reminder, ReminderState

DUE_TOMORROW_AT = time(9, 0)
WEEKLY_DIGEST_AT = time(8, 0)  # on Mondays
# A scheduled mail still goes out this long after its time (a scheduler that was down catches
# up), but not later: nobody wants Monday's digest on Thursday, or 09:00's mail at midnight.
CATCH_UP = timedelta(hours=12)

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    reminders: int = 0
    due_tomorrow: int = 0
    weekly_digests: int = 0
    leased: int = 0
    lease_tokens: list[str] = field(default_factory=list)


def _insert_new(table: Table, rows: list[dict]) -> None:
    """Insert rows, skipping any whose unique key exists: planning twice plans nothing new."""
    if not rows:
        return
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


def _plan(deliveries: list[dict], notifications: list[dict]) -> None:
    _insert_new(Delivery.__table__, deliveries)
    _insert_new(Notification.__table__, notifications)
    notifications_changed(row["user_id"] for row in notifications)


def _delivery(key: str, user_id: int, kind: MailKind, **payload) -> dict:
    now = now_utc()  # leases and retries run on the real clock, whatever `now` planning used
    return {
        "key": key,
        "user_id": user_id,
        "kind": kind.value,
        "payload": json.dumps(payload, default=str),
        "state": DeliveryState.PENDING.value,
        "attempts": 0,
        "not_before": now,
        "created_at": now,
    }


def _notification(key: str, user_id: int, title: str, url: str, body: str = "") -> dict:
    return {"key": key, "user_id": user_id, "title": title, "body": body, "url": url, "created_at": now_utc()}


def _wants(kind: MailKind):
    """Users to mail this kind of mail: they have not switched it off, and their address is
    confirmed. Two columns of the user's row, read where the row is read anyway: the sweeps pick
    users by zone (its index) or by id, and no plan changes."""
    return and_(getattr(User, kind.preference).is_(True), ADDRESS_CONFIRMED)


def _chosen(query, name: str):
    """The ids `query` picks, at most its LIMIT, for an `UPDATE … WHERE id IN (…)`.

    On PostgreSQL they are locked with SKIP LOCKED, so two sweeps take different rows instead of
    waiting for each other, and picked once in a materialized CTE: as a plain IN (…) subquery,
    PostgreSQL re-ran it for each row it updated and took more rows than the LIMIT."""
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    chosen = query.cte(name).prefix_with("MATERIALIZED")
    return select(chosen.c.id)


# --- per-task reminders -------------------------------------------------------------------


def claim_due_reminders(now: datetime, batch: int) -> int:
    """Turn up to `batch` due reminders into mails and notifications, in one transaction."""
    due = _chosen(
        select(Reminder.id)
        .where(Reminder.state == ReminderState.PENDING, Reminder.remind_at <= now)
        .order_by(Reminder.remind_at)
        .limit(batch),
        "due",
    )
    claimed = db.session.execute(
        update(Reminder)
        .where(Reminder.id.in_(due), Reminder.state == ReminderState.PENDING)
        .values(state=ReminderState.SENT)
        .returning(Reminder.id, Reminder.task_id, Reminder.owner_id)
    ).all()
    task_ids = {row.task_id for row in claimed}
    titles = dict(db.session.execute(select(Task.id, Task.title).where(Task.id.in_(task_ids))).all())
    owners = {row.owner_id for row in claimed}
    mailed = set(db.session.scalars(select(User.id).where(User.id.in_(owners), _wants(MailKind.REMINDER))))
    deliveries, notifications = [], []
    for row in claimed:
        key = f"reminder:{row.id}"
        if row.owner_id in mailed:  # switched off or unconfirmed, a reminder still shows in the app
            deliveries.append(_delivery(key, row.owner_id, MailKind.REMINDER, task_id=row.task_id))
        title = f"Reminder: {titles.get(row.task_id, 'a task')}"
        notifications.append(
            _notification(key, row.owner_id, title, site_path("tasks.show", task_id=row.task_id))
        )
    _plan(deliveries, notifications)
    db.session.commit()
    return len(claimed)


# --- daily, weekly and overdue mails, by the user's own clock ------------------------------


def _zones_in_use() -> list[str]:
    return list(db.session.scalars(select(User.timezone).distinct()))


def _in_catch_up(now: datetime, scheduled: datetime) -> bool:
    return scheduled <= now < scheduled + CATCH_UP


def _claim_users(column, kind: MailKind, tz: str, planned_for: date, batch: int) -> list[int]:
    """Up to `batch` users in `tz` who want this mail and have not had it planned for
    `planned_for`; claimed by moving `column` to that date."""
    claimable = _chosen(
        select(User.id)
        .where(User.timezone == tz, _wants(kind), or_(column.is_(None), column < planned_for))
        .order_by(User.id)
        .limit(batch),
        "claimable",
    )
    query = (
        update(User)
        .where(User.id.in_(claimable), or_(column.is_(None), column < planned_for))
        .values({column: planned_for})
        .returning(User.id)
    )
    return list(db.session.scalars(query))


def _claimed_batches(column, kind: MailKind, tz: str, planned_for: date, batch: int) -> Iterator[list[int]]:
    """The users to plan this mail for, claimed `batch` at a time: the caller plans and commits
    each batch before the next is claimed, so workers start sending the first mails at once."""
    while users := _claim_users(column, kind, tz, planned_for, batch):
        yield users
        if len(users) < batch:
            return


def _owners_with_open_tasks_due(user_ids: list[int], start: datetime, end: datetime) -> set[int]:
    # The ids go into the SQL as literals: as 2,000 bound parameters the statement text is the
    # same for every batch, psycopg prepares it after five runs, and PostgreSQL's generic plan for
    # it took 20 times longer than the plan for the actual ids.
    ids = bindparam("user_ids", user_ids, expanding=True, literal_execute=True)
    query = select(Task.owner_id).distinct().where(Task.owner_id.in_(ids), TASK_OPEN)
    return set(db.session.scalars(query.where(Task.due_at >= start, Task.due_at < end)))


def _plan_for_each(user_ids: list[int], kind: MailKind, key: str, title: str, url: str, **payload) -> int:
    """One mail and one notification for each user (`key` has a {} for the user id); commits."""
    keys = [(key.format(user_id), user_id) for user_id in user_ids]
    _plan(
        [_delivery(each, user_id, kind, **payload) for each, user_id in keys],
        [_notification(each, user_id, title, url) for each, user_id in keys],
    )
    db.session.commit()
    return len(keys)


def plan_due_tomorrow(now: datetime, batch: int, hand_out: Callable[[], None]) -> int:
    """From 09:00 local, one mail per user listing tomorrow's open tasks (none if nothing is due).
    Each batch of users is handed out to send jobs as soon as it is planned."""
    planned = 0
    for tz in _zones_in_use():
        local = to_local(now, tz)
        if not _in_catch_up(now, local_to_utc(local.date(), DUE_TOMORROW_AT, tz)):
            continue
        tomorrow = local.date() + timedelta(days=1)
        bounds = local_day_bounds(tomorrow, tz)
        column = User.due_tomorrow_planned_on
        for users in _claimed_batches(column, MailKind.DUE_TOMORROW, tz, local.date(), batch):
            planned += _plan_for_each(
                sorted(_owners_with_open_tasks_due(users, *bounds)),
                MailKind.DUE_TOMORROW,
                f"due-tomorrow:{{}}:{tomorrow}",
                "Tasks due tomorrow",
                site_path("tasks.index", due="tomorrow"),
                day=tomorrow,
            )
            hand_out()
    return planned


def plan_weekly_digests(now: datetime, batch: int, hand_out: Callable[[], None]) -> int:
    """From Monday 08:00 local, one digest of last week per user, handed out batch by batch."""
    planned = 0
    for tz in _zones_in_use():
        local = to_local(now, tz)
        monday = monday_of(local.date())
        if not _in_catch_up(now, local_to_utc(monday, WEEKLY_DIGEST_AT, tz)):
            continue
        for users in _claimed_batches(User.digest_planned_on, MailKind.WEEKLY_DIGEST, tz, monday, batch):
            planned += _plan_for_each(
                users,
                MailKind.WEEKLY_DIGEST,
                f"weekly-digest:{{}}:{monday}",
                "Your weekly digest",
                site_path("dashboard.home"),
                week_start=monday,
            )
            hand_out()
    return planned


def plan_overdue(now: datetime) -> int:
    """Hourly: one mail per user about tasks that became overdue, each task at most once a day."""
    planned = 0
    for tz in _zones_in_use():
        today = to_local(now, tz).date()
        owners = select(User.id).where(User.timezone == tz, _wants(MailKind.OVERDUE))
        claimed = db.session.execute(
            update(Task)
            .where(
                Task.owner_id.in_(owners.scalar_subquery()),
                TASK_OPEN,
                Task.due_at < now,
                or_(Task.overdue_reminded_on.is_(None), Task.overdue_reminded_on < today),
            )
            .values(overdue_reminded_on=today)
            .returning(Task.id, Task.owner_id)
        ).all()
        tasks_by_owner: dict[int, list[int]] = defaultdict(list)
        for task_id, owner_id in claimed:
            tasks_by_owner[owner_id].append(task_id)
        hour = now.strftime("%Y-%m-%dT%H")
        overdue_list = site_path("tasks.index", due="overdue")
        deliveries, notifications = [], []
        for owner, task_ids in tasks_by_owner.items():
            key = f"overdue:{owner}:{hour}"
            deliveries.append(_delivery(key, owner, MailKind.OVERDUE, task_ids=sorted(task_ids)))
            title = "1 task is overdue" if len(task_ids) == 1 else f"{len(task_ids)} tasks are overdue"
            notifications.append(_notification(key, owner, title, overdue_list))
        _plan(deliveries, notifications)
        db.session.commit()
        planned += len(deliveries)
    return planned


# --- leasing deliveries to send jobs -------------------------------------------------------


def lease_ready_deliveries(
    batch: int, lease: timedelta, kinds: tuple[MailKind, ...]
) -> Iterable[tuple[str, int]]:
    """Lease pending deliveries of these kinds whose time has come, `batch` to a token; yields
    (token, count).

    A lease also moves `not_before` to the lease's end: a leased delivery is not ready again
    until its lease runs out, and the ready index skips it instead of each lease walking past
    every delivery leased before it (the 09:00 flood leased 100,000 in O(n²))."""
    while True:
        now = now_utc()
        ready = _chosen(
            select(Delivery.id)
            .where(
                Delivery.state == DeliveryState.PENDING,
                Delivery.not_before <= now,
                Delivery.kind.in_([kind.value for kind in kinds]),
            )
            .order_by(Delivery.not_before, Delivery.id)
            .limit(batch),
            "ready",
        )
        token = secrets.token_hex(16)
        leased = db.session.execute(
            update(Delivery)
            .where(
                Delivery.id.in_(ready), Delivery.state == DeliveryState.PENDING, Delivery.not_before <= now
            )
            .values(lease_token=token, lease_until=now + lease, not_before=now + lease)
            .returning(Delivery.id)
        ).all()
        db.session.commit()
        if not leased:
            return
        yield token, len(leased)
        if len(leased) < batch:
            return


def dispatch_ready(enqueue) -> tuple[int, list[str]]:
    """Lease the deliveries that are ready, urgent kinds first, and enqueue one send job per lease.

    `enqueue(tokens, urgent=…)` puts the jobs on the urgent or the bulk mail queue; if it fails
    (Redis is down), the leases simply run out and a later sweep hands the deliveries out again.
    Returns (deliveries, tokens).
    """
    config = current_app.config
    lease = timedelta(seconds=config["DELIVERY_LEASE_SECONDS"])
    leased, all_tokens = 0, []
    for kinds, urgent in ((URGENT, True), (BULK, False)):
        tokens = []
        for token, count in lease_ready_deliveries(config["DELIVERY_BATCH"], lease, kinds):
            tokens.append(token)
            leased += count
        if tokens:
            enqueue(tokens, urgent=urgent)
        all_tokens += tokens
    return leased, all_tokens


def request_hand_out() -> None:
    """Ask a worker to hand ready mail out now rather than at the next sweep. If Redis cannot be
    reached the mail is not lost: the next sweep hands it out."""
    try:
        queues.queue(PLANNING_QUEUE).enqueue("jobs.reminders.hand_out_mail", result_ttl=60)
    except RedisError as error:
        log.warning("could not ask for mail to be handed out now (the sweep will): %s", error)


def sweep(now: datetime | None = None, *, enqueue) -> SweepReport:
    """Plan everything that is due at `now`, then hand ready deliveries to send jobs.

    `now` decides what is due (tests pass a clock); leases always run on the real clock.
    """
    now = now or now_utc()
    report = SweepReport()

    def hand_out() -> None:
        leased, tokens = dispatch_ready(enqueue)
        report.leased += leased
        report.lease_tokens += tokens

    batch = current_app.config["SWEEP_BATCH"]
    while True:  # workers start on the first batch while the sweep claims the next
        claimed = claim_due_reminders(now, batch)
        report.reminders += claimed
        hand_out()
        if claimed < batch:
            break
    report.due_tomorrow = plan_due_tomorrow(now, batch, hand_out)
    report.weekly_digests = plan_weekly_digests(now, batch, hand_out)
    return report
