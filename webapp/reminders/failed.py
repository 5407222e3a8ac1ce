"""Failed mail: deliveries that ran out of tries, or that a server refused for good.

A retried delivery goes back to pending under the same key, with its tries counted afresh: the
next hand-out leases it to a send job like any other, and it is still sent at most once (sending
records "sent" under its lease, and a sent or discarded delivery never goes back). A discarded
one is final. Both are conditional on the delivery being failed at that moment, so two admins
(or a double click) retrying the same mail change it once.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update

from ..extensions import db
from ..pagination import Page, newest_first
from ..timezones import now_utc
from .models import Delivery, DeliveryState

FAILED = Delivery.state == DeliveryState.FAILED


def failed_page(before: int | None, page_size: int) -> Page[Delivery]:
    """Failed deliveries, newest first (their partial index, by id)."""
    return newest_first(select(Delivery).where(FAILED), Delivery.id, before, page_size)


def failed_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Delivery).where(FAILED))


def newest_failed_id() -> int | None:
    return db.session.scalar(select(func.max(Delivery.id)).where(FAILED))


def retry_failed(which: ColumnElement[bool]) -> list[Delivery]:
    """Make the failed deliveries `which` picks pending again, ready now; those it changed.
    The caller commits, then asks for mail to be handed out."""
    return _change_failed(
        which,
        state=DeliveryState.PENDING,
        attempts=0,
        not_before=now_utc(),
        lease_token=None,
        lease_until=None,
    )


def discard_failed(which: ColumnElement[bool]) -> list[Delivery]:
    return _change_failed(which, state=DeliveryState.DISCARDED)


def _change_failed(which: ColumnElement[bool], **values) -> list[Delivery]:
    statement = update(Delivery).where(FAILED, which).values(**values).returning(Delivery)
    return list(db.session.scalars(statement.execution_options(synchronize_session=False)))
