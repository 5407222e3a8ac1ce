"""Reminders, mail deliveries and in-app notifications.

The database is the source of truth: a Reminder says what is due, a Delivery is one mail to
send (its unique `key` makes planning idempotent), a Notification is what the bell shows.
Redis only holds the jobs that carry deliveries in flight; a lease on each delivery says which
job may send it, and an expired lease hands it to the next sweep.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from ..models import Task, UTCDateTime
from ..timezones import now_utc


class ReminderState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    CANCELLED = "cancelled"  # for good: the task was completed, or the user removed the reminder
    WITH_DELETED_TASK = "task_deleted"  # waits in the bin with its task; restoring may revive it


class Reminder(db.Model):
    __tablename__ = "reminders"
    __table_args__ = (
        Index(
            "ix_reminders_due",
            "remind_at",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=ReminderState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    task: Mapped[Task] = relationship()


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"  # nothing left to say: the task was done or deleted meanwhile
    FAILED = "failed"  # an admin may retry it (back to pending, under the same key) or discard it
    DISCARDED = "discarded"  # failed, and an admin chose not to send it: final, like sent


class Delivery(db.Model):
    """One mail to one user. Sent at most once: the key is unique and `sent` is final."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "ix_deliveries_ready",
            "not_before",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index(  # the admins' list of failed mail, newest first
            "ix_deliveries_failed",
            "id",
            sqlite_where=text("state = 'failed'"),
            postgresql_where=text("state = 'failed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # a MailKind
    payload: Mapped[str] = mapped_column(Text, default="{}")  # JSON: what the mail is about
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(120))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(db.Model):
    """What the bell shows. Created with the delivery, under the same key, so never twice."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_id_id", "user_id", "id"),
        Index(
            "ix_notifications_unread",
            "user_id",
            sqlite_where=text("read_at IS NULL"),
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(250))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
