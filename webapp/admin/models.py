"""The audit log: one row per admin action, kept in the database.

Who acted and on whom are kept as text too (`actor`, `target`: e-mail addresses, or "cli" for a
command run on the server), so an entry still says who it was after either account is gone.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
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

    @property
    def label(self) -> str:
        return {
            "create_admin": "Created an admin",
            "promote": "Made admin",
            "demote": "Removed admin",
            "deactivate": "Deactivated",
            "reactivate": "Reactivated",
            "send_password_reset": "Sent a password reset",
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
