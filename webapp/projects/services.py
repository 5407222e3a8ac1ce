"""Projects (lists): every user has an Inbox; the rest they create, rename, archive and delete."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Project, User

INBOX_NAME = "Inbox"


def ensure_inbox(user: User) -> Project:
    """The user's Inbox, created on first need (sign-up calls this)."""
    inbox = db.session.scalar(select(Project).where(Project.owner_id == user.id, Project.is_inbox.is_(True)))
    if inbox is None:
        inbox = Project(owner_id=user.id, name=INBOX_NAME, is_inbox=True)
        db.session.add(inbox)
        db.session.flush()
    return inbox
