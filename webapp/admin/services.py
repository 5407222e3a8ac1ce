"""What admins may do to accounts, and the audit log that records each of it.

Every change here writes its AuditEntry in the same transaction, so the log holds exactly what
happened. The actor is the admin's User, or None for a command run on the server (`flask users`).

The last-admin rule: no change may leave the site without an active admin. Two admins demoting
each other at the same moment must not both succeed, so the check is made where the database
serialises it (see `_change_keeping_an_admin`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from flask import abort
from sqlalchemy import and_, exists, func, not_, or_, select, update
from sqlalchemy.orm import aliased

from ..auth.services import (
    confirm_address,
    create_account,
    end_every_session,
    request_password_reset,
    reset_mails_used_up,
)
from ..cache import account_changed
from ..extensions import db
from ..models import Project, Status, Task, User, UserSession
from ..pagination import Page, newest_first
from ..timezones import now_utc
from .models import CLI_ACTOR, AuditAction, AuditEntry

ACTIVE_ADMIN = and_(User.is_admin, User.active)
RECENT_ENTRIES = 10  # audit entries about a user shown with their summary

LAST_ADMIN = "This is the last active admin. Make someone else an admin first."
NOT_YOURSELF = "You cannot deactivate your own account. Ask another admin."
INACTIVE_RESET = "This account is deactivated. Reactivate it before sending a password reset."
RESETS_USED_UP = "This inbox had the most password-reset mails an hour allows. Please try again later."


class AdminRuleBroken(Exception):
    """The change is refused; the message says why (answered with 409)."""


# --- finding accounts ------------------------------------------------------------------------------


def user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def users_page(search: str, before: int | None, page_size: int) -> Page[User]:
    """Accounts whose address contains `search`, newest first, a keyset page below `before`."""
    query = select(User)
    if search:
        query = query.where(User.email.contains(search.lower(), autoescape=True))
    return newest_first(query, User.id, before, page_size)


def all_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.id)))


@dataclass
class UserSummary:
    user: User
    tasks_by_status: dict[Status, int] = field(default_factory=dict)
    last_task_change: datetime | None = None
    projects: int = 0
    signed_in_browsers: int = 0
    recent_entries: list[AuditEntry] = field(default_factory=list)

    @property
    def tasks(self) -> int:
        return sum(self.tasks_by_status.values())


def user_summary(user: User) -> UserSummary:
    """What an admin sees of an account: its tasks by status (not those in the bin), projects,
    signed-in browsers and the latest admin actions about it. Each count walks an index."""
    summary = UserSummary(user, dict.fromkeys(Status, 0))
    by_status = select(Task.status, func.count(), func.max(Task.updated_at)).where(
        Task.owner_id == user.id, Task.deleted_at.is_(None)
    )
    for status, count, last_change in db.session.execute(by_status.group_by(Task.status)):
        summary.tasks_by_status[Status(status)] = count
        summary.last_task_change = max(filter(None, (summary.last_task_change, last_change)), default=None)
    summary.projects = db.session.scalar(select(func.count()).where(Project.owner_id == user.id))
    summary.signed_in_browsers = db.session.scalar(
        select(func.count()).where(UserSession.user_id == user.id, UserSession.expires_at > now_utc())
    )
    about = select(AuditEntry).where(AuditEntry.target_id == user.id).order_by(AuditEntry.id.desc())
    summary.recent_entries = list(db.session.scalars(about.limit(RECENT_ENTRIES)))
    return summary


def audit_page(before: int | None, page_size: int) -> Page[AuditEntry]:
    return newest_first(select(AuditEntry), AuditEntry.id, before, page_size)


# --- changing accounts -----------------------------------------------------------------------------


def set_admin(actor: User | None, target: User, admin: bool) -> bool:
    """Make the target an admin or not; whether anything changed."""
    if target.is_admin == admin:
        return False
    _change_keeping_an_admin(target, is_admin=admin)
    account_changed(target.id)  # cached sessions hold the old role: the next request reads it again
    audit(actor, AuditAction.PROMOTE if admin else AuditAction.DEMOTE, target)
    db.session.commit()
    return True


def deactivate(actor: User | None, target: User) -> bool:
    """The target can no longer log in, and every session of theirs ends now; whether anything
    changed."""
    if actor is not None and actor.id == target.id:
        raise AdminRuleBroken(NOT_YOURSELF)
    if not target.active:
        return False
    _change_keeping_an_admin(target, active=False)
    ended = db.session.scalar(select(func.count()).where(UserSession.user_id == target.id))
    end_every_session(target)
    audit(
        actor,
        AuditAction.DEACTIVATE,
        target,
        f"{ended} signed-in {'browser' if ended == 1 else 'browsers'} logged out",
    )
    db.session.commit()
    return True


def reactivate(actor: User | None, target: User) -> bool:
    if target.active:
        return False
    _change_keeping_an_admin(target, active=True)
    account_changed(target.id)
    audit(actor, AuditAction.REACTIVATE, target)
    db.session.commit()
    return True


def send_password_reset(actor: User, target: User) -> bool:
    """Mail the target a reset link, through the same pipeline as the "Forgot password" form
    (always a change: each request is its own mail)."""
    if not target.active:
        raise AdminRuleBroken(INACTIVE_RESET)
    if reset_mails_used_up(target):
        raise AdminRuleBroken(RESETS_USED_UP)
    audit(actor, AuditAction.SEND_PASSWORD_RESET, target)
    if not request_password_reset(target.email):  # commits the entry with the mail's delivery
        db.session.rollback()
        raise AdminRuleBroken(RESETS_USED_UP)
    return True


def create_admin(email: str, password: str, display_name: str) -> User:
    """A new account that is an admin from the start (the CLI's), its address taken as confirmed:
    whoever runs the command on the server vouches for it. Raises EmailTaken."""
    user = create_account(email, password, display_name, "UTC")
    user.is_admin = True
    confirm_address(user)
    audit(None, AuditAction.CREATE_ADMIN, user)
    db.session.commit()
    return user


def _change_keeping_an_admin(target: User, **values) -> None:
    """Update the target's row (is_admin, active) unless that leaves no active admin; raise
    AdminRuleBroken then.

    PostgreSQL: the active admins' rows are locked first, so two admins demoting each other at
    once take turns, and the second one's check sees the first's change. SQLite: the check is a
    condition of the UPDATE itself, which holds the database's write lock."""
    conditions = [User.id == target.id]
    if False in (values.get("is_admin"), values.get("active")):
        db.session.execute(select(User.id).where(ACTIVE_ADMIN).with_for_update())
        other = aliased(User)
        another_admin = exists().where(other.is_admin, other.active, other.id != target.id)
        conditions.append(or_(not_(ACTIVE_ADMIN), another_admin))
    statement = update(User).where(*conditions).values(**values)
    if db.session.execute(statement.execution_options(synchronize_session=False)).rowcount != 1:
        db.session.rollback()
        raise AdminRuleBroken(LAST_ADMIN)
    db.session.expire(target, list(values))


def audit(actor: User | None, action: AuditAction, target: User | str, details: str = "") -> None:
    """Add the entry for an action to the session, to be committed with the change itself.
    `target` is the account acted on, or what else it was (a failed job, some failed mail)."""
    about = target if isinstance(target, User) else None
    db.session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            actor=actor.email if actor else CLI_ACTOR,
            action=action.value,
            target_id=about.id if about else None,
            target=about.email if about else target,
            details=details,
        )
    )


# --- what the pages and the CLI offer ----------------------------------------------------------------


@dataclass(frozen=True)
class AccountAction:
    """A change an admin (or the CLI) makes to an account, and what to tell them after it."""

    change: Callable[[User | None, User], bool]  # whether anything changed; AdminRuleBroken
    done: str
    unchanged: str = ""

    def apply(self, actor: User | None, target: User) -> str:
        """Make the change; the sentence saying what happened. Raises AdminRuleBroken."""
        changed = self.change(actor, target)
        return (self.done if changed else self.unchanged).format(email=target.email)


ACTIONS = {
    AuditAction.DEACTIVATE: AccountAction(
        deactivate, "{email} is deactivated and logged out.", "{email} was already deactivated."
    ),
    AuditAction.REACTIVATE: AccountAction(
        reactivate, "{email} can log in again.", "{email} was already active."
    ),
    AuditAction.PROMOTE: AccountAction(
        partial(set_admin, admin=True), "{email} is now an admin.", "{email} was already an admin."
    ),
    AuditAction.DEMOTE: AccountAction(
        partial(set_admin, admin=False), "{email} is no longer an admin.", "{email} was not an admin."
    ),
    AuditAction.SEND_PASSWORD_RESET: AccountAction(
        send_password_reset, "A password-reset link is on its way to {email}."
    ),
}
