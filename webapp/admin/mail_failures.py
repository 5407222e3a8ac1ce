"""Failed mail, as admins see and handle it: the list with each one's error, retry or discard
one or all, each audited in the same transaction (see webapp/reminders/failed.py for what a
retry does and why it still sends at most once).

"All" means the failed mail the admin was shown: every failed delivery up to the newest one on
the page when it was drawn, not mail that failed after they looked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import abort
from sqlalchemy import select

from ..extensions import db
from ..models import User
from ..pagination import Page
from ..reminders import failed
from ..reminders.dispatch import request_hand_out
from ..reminders.models import Delivery
from ..text import last_line
from .job_failures import NO_ERROR
from .models import AuditAction
from .services import AdminRuleBroken, audit

NO_LONGER_FAILED = "That mail is no longer failed: another admin has retried or discarded it."


@dataclass(frozen=True)
class FailedMail:
    delivery: Delivery
    recipient: User

    @property
    def kind(self) -> str:
        return self.delivery.kind.replace("_", " ").capitalize()

    @property
    def error(self) -> str:
        return self.delivery.last_error or NO_ERROR

    @property
    def error_summary(self) -> str:
        return last_line(self.error) or NO_ERROR

    @property
    def payload(self) -> str:
        try:
            return json.dumps(json.loads(self.delivery.payload), indent=2, sort_keys=True)
        except ValueError:
            return self.delivery.payload


@dataclass
class FailedMailPage:
    items: list[FailedMail]
    older_than: int | None
    total: int
    newest_id: int | None  # what "all" means on this page


def failed_mail_page(before: int | None, page_size: int) -> FailedMailPage:
    page: Page[Delivery] = failed.failed_page(before, page_size)
    user_ids = {delivery.user_id for delivery in page.items}
    users = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
    return FailedMailPage(
        items=[FailedMail(delivery, users[delivery.user_id]) for delivery in page.items],
        older_than=page.older_than,
        total=failed.failed_count(),
        newest_id=failed.newest_failed_id(),
    )


def _failed_delivery(delivery_id: int) -> Delivery:
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        abort(404)
    return delivery


def retry(actor: User, delivery_id: int) -> str:
    """Send the mail again, under its key; what to tell the admin. AdminRuleBroken when it is no
    longer failed."""
    delivery = _failed_delivery(delivery_id)
    if not failed.retry_failed(Delivery.id == delivery.id):
        raise AdminRuleBroken(NO_LONGER_FAILED)
    return _done(actor, AuditAction.RETRY_MAIL, delivery, "is on its way again", hand_out=True)


def discard(actor: User, delivery_id: int) -> str:
    delivery = _failed_delivery(delivery_id)
    if not failed.discard_failed(Delivery.id == delivery.id):
        raise AdminRuleBroken(NO_LONGER_FAILED)
    return _done(actor, AuditAction.DISCARD_MAIL, delivery, "is discarded: it will not be sent")


def retry_all(actor: User, up_to: int) -> str:
    retried = failed.retry_failed(Delivery.id <= up_to)
    audit(actor, AuditAction.RETRY_ALL_MAIL, _mails(len(retried)))
    db.session.commit()
    if retried:
        request_hand_out()
    return f"{_mails(len(retried)).capitalize()} on {'its' if len(retried) == 1 else 'their'} way again."


def discard_all(actor: User, up_to: int) -> str:
    discarded = failed.discard_failed(Delivery.id <= up_to)
    audit(actor, AuditAction.DISCARD_ALL_MAIL, _mails(len(discarded)))
    db.session.commit()
    return f"{_mails(len(discarded)).capitalize()} discarded."


def _mails(count: int) -> str:
    return f"{count} failed {'mail' if count == 1 else 'mails'}"


def _done(actor: User, action: AuditAction, delivery: Delivery, outcome: str, hand_out: bool = False) -> str:
    recipient = db.session.get(User, delivery.user_id)
    audit(actor, action, recipient, f"{delivery.kind} mail {delivery.key}")
    db.session.commit()
    if hand_out:
        request_hand_out()
    return f"The {delivery.kind.replace('_', ' ')} mail to {recipient.email} {outcome}."
