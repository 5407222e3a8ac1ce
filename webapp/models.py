"""Typed SQLAlchemy 2 models. Times are stored as naive UTC and come back as aware UTC."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from flask_login import UserMixin
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    false,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .timezones import now_utc

# Ids are 32-bit integers in the database: the largest one a URL or a token may name.
MAX_ID = 2**31 - 1


class UTCDateTime(TypeDecorator):
    """Stores UTC without a zone (portable to SQLite), always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class Status(enum.StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    DONE = "done"

    @property
    def label(self) -> str:
        return {"todo": "To do", "in_progress": "In progress", "done": "Done"}[self.value]


class Priority(enum.IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3

    @property
    def label(self) -> str:
        return self.name.capitalize()


class User(UserMixin, db.Model):
    __tablename__ = "users"
    # The admins, for the last-admin rule: a short partial index, whatever the number of users.
    __table_args__ = (
        Index("ix_users_admins", "id", sqlite_where=text("is_admin"), postgresql_where=text("is_admin")),
        Index("ix_users_created_at", "created_at"),  # the overview's sign-ups per day
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(80))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    # Mails a user can switch off in the profile (or with the one-click link in each mail).
    mail_reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    mail_due_tomorrow: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    mail_overdue: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    mail_weekly_digest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The user's local date whose scheduled mails were planned: the sweep plans each day once.
    due_tomorrow_planned_on: Mapped[date | None] = mapped_column(Date)
    digest_planned_on: Mapped[date | None] = mapped_column(Date)  # Monday of the planned week
    # When the owner of the address followed a confirmation link (or a reset link: that came by
    # mail too). Until then no mail about tasks goes to the address (ADDRESS_CONFIRMED).
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Admins manage users (webapp/admin). A deactivated user cannot log in and has no sessions.
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Set by the session loader: the server-side session this request belongs to.
    session_token = None

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to log in a user who is not active."""
        return self.active

    def get_id(self) -> str | None:
        """Flask-Login stores this in its cookies: the server-side session, never the user id."""
        return self.session_token


# Mail about tasks goes only to users whose address is confirmed.
ADDRESS_CONFIRMED = User.email_verified_at.is_not(None)


class UserSession(db.Model):
    """A signed-in browser. Deleting the row ends the session, whatever cookies still exist."""

    __tablename__ = "user_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class MailedToken:
    """The secret of a link sent by mail (webapp/auth/tokens.py): only its SHA-256 is kept; it
    works once, until it expires."""

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordResetToken(MailedToken, db.Model):
    __tablename__ = "password_reset_tokens"


class EmailConfirmation(MailedToken, db.Model):
    """A link that confirms `email` is its user's: it confirms nothing once the user's address
    is another one."""

    __tablename__ = "email_confirmations"

    email: Mapped[str] = mapped_column(String(254))


class Project(db.Model):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    is_inbox: Mapped[bool] = mapped_column(Boolean, default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


task_tags = db.Table(
    "task_tags",
    db.Column("task_id", ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    db.Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_task_tags_tag_id_task_id", "tag_id", "task_id"),
)


class Tag(db.Model):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("owner_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(40))


LIVE = text("deleted_at IS NULL")
COMPLETED = text("completed_at IS NOT NULL")
DELETED = text("deleted_at IS NOT NULL")


def _live_index(name: str, *columns: str) -> Index:
    """A partial index over tasks that are not (soft-)deleted, on SQLite and PostgreSQL alike."""
    return Index(name, *columns, sqlite_where=LIVE, postgresql_where=LIVE)


MAX_TITLE_LENGTH = 200


class Task(db.Model):
    """A user's to-do item. owner_id is the account that owns the task's project."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("status IN ('todo', 'in_progress', 'done')", name="status_known"),
        CheckConstraint("priority BETWEEN 0 AND 3", name="priority_known"),
        # One index per list order, each covering the keyset (value, id) and only live tasks.
        _live_index("ix_tasks_owner_due", "owner_id", "due_at", "id"),
        _live_index("ix_tasks_owner_created", "owner_id", "created_at", "id"),
        _live_index("ix_tasks_owner_priority", "owner_id", "priority", "id"),
        _live_index("ix_tasks_owner_status_due", "owner_id", "status", "due_at", "id"),
        _live_index("ix_tasks_project_due", "project_id", "due_at", "id"),
        _live_index("ix_tasks_owner_completed", "owner_id", "completed_at"),
        # For the overview's counting job: completions per day (of tasks in the bin too), and
        # tasks by status read from an index.
        Index("ix_tasks_completed_at", "completed_at", sqlite_where=COMPLETED, postgresql_where=COMPLETED),
        _live_index("ix_tasks_status", "status"),
        Index("ix_tasks_deleted_at", "deleted_at"),
        # The trash: a user's deleted tasks, most recently deleted first.
        Index(
            "ix_tasks_owner_trash", "owner_id", "deleted_at", sqlite_where=DELETED, postgresql_where=DELETED
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE_LENGTH))
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=Status.TODO)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.NORMAL)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_all_day: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc, onupdate=now_utc)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The owner's local date of the last overdue reminder: at most one per task per day.
    overdue_reminded_on: Mapped[date | None] = mapped_column(Date)

    project: Mapped[Project] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=task_tags, order_by=Tag.name)

    @property
    def done(self) -> bool:
        return self.status == Status.DONE


# A task still to do: not deleted, not done. The one spelling of "open" for every query.
TASK_NOT_DONE = Task.status != Status.DONE.value
TASK_OPEN = and_(Task.deleted_at.is_(None), TASK_NOT_DONE)
