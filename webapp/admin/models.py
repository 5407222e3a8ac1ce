"""The audit log: one row per admin action, kept in the database; and the site's figures the
overview shows, counted by a periodic job (see site_stats.py).

Who acted and on whom are kept as text too (`actor`, `target`: e-mail addresses, or "cli" for a
command run on the server), so an entry still says who it was after either account is gone. An
action on something other than an account (a failed job) names it in `target`, with no
`target_id`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..models import UTCDateTime
from ..timezones import now_utc

CLI_ACTOR = "cli"  # the actor of what `flask users …` did


class AuditAction(enum.StrEnum):
    CREATE_ADMIN = "create_admin"
    PROMOTE = "promote"
    DEMOTE = "demote"
    DEACTIVATE = "deactivate"
    REACTIVATE = "reactivate"
    SEND_PASSWORD_RESET = "send_password_reset"
    RETRY_JOB = "retry_job"
    DELETE_JOB = "delete_job"
    RETRY_ALL_JOBS = "retry_all_jobs"
    DELETE_ALL_JOBS = "delete_all_jobs"
    RETRY_MAIL = "retry_mail"
    DISCARD_MAIL = "discard_mail"
    RETRY_ALL_MAIL = "retry_all_mail"
    DISCARD_ALL_MAIL = "discard_all_mail"

    @property
    def label(self) -> str:
        return {
            "create_admin": "Created an admin",
            "promote": "Made admin",
            "demote": "Removed admin",
            "deactivate": "Deactivated",
            "reactivate": "Reactivated",
            "send_password_reset": "Sent a password reset",
            "retry_job": "Retried a failed job",
            "delete_job": "Deleted a failed job",
            "retry_all_jobs": "Retried all failed jobs",
            "delete_all_jobs": "Deleted all failed jobs",
            "retry_mail": "Retried a failed mail",
            "discard_mail": "Discarded a failed mail",
            "retry_all_mail": "Retried all failed mail",
            "discard_all_mail": "Discarded all failed mail",
        }[self.value]


class AuditEntry(db.Model):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_target_id_id", "target_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now_utc)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    target: Mapped[str] = mapped_column(String(254), default="")
    details: Mapped[str] = mapped_column(Text, default="")

    @property
    def action_label(self) -> str:
        try:
            return AuditAction(self.action).label
        except ValueError:
            return self.action


class DailyStat(db.Model):
    """One figure of one day (UTC), e.g. the sign-ups of 3 November."""

    __tablename__ = "daily_stats"

    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class SiteTotal(db.Model):
    """One figure of the whole site as it was at `counted_at`, e.g. the tasks to do."""

    __tablename__ = "site_totals"

    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)
