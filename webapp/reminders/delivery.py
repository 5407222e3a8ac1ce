"""Sending leased deliveries: compose each mail, send them over one connection, record each result.

A send job owns the deliveries leased to its token. It composes every mail first, then sends one
by one and records "sent" right after the SMTP server accepted the message, in its own short
transaction, so a crash loses at most the one message in flight — which is then still pending
and goes out when the lease runs out. Transient failures come back later with backoff; after
the last try the delivery is marked failed, with the error, and logged.

One bad delivery never holds up the others: a mail that cannot be composed or built, or that the
server refuses for good, is marked failed with its error and the job goes on with the next.

On PostgreSQL the "sent" mark is committed with synchronous_commit off: the worker does not wait
for the mark to reach the disk (an fsync per mail made PostgreSQL a third slower than SQLite).
A worker crash loses nothing by it; only a crash of the database server itself can lose the
marks of its last moments (at most three times wal_writer_delay, 0.6 s by default), and those mails are
then sent again when their lease runs out, with the same Message-ID.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message

from flask import current_app
from sqlalchemy import select, text, update

from ..extensions import db
from ..mail import PermanentMailError, TransientMailError, open_mailer
from ..models import User
from ..timezones import now_utc
from .compose import Batch, compose
from .models import Delivery, DeliveryState

log = logging.getLogger(__name__)


@dataclass
class Outgoing:
    delivery_id: int
    key: str
    message: Message | None  # None: nothing left to say (the task went away), or not composable
    error: Exception | None = None  # why it could not be composed


def _compose_one(delivery: Delivery, user: User, batch: Batch) -> Outgoing:
    try:
        return Outgoing(delivery.id, delivery.key, compose(delivery, user, batch))
    except Exception as error:  # a poisoned delivery must not take the batch down with it
        log.exception("delivery %s (%s) could not be composed", delivery.id, delivery.key)
        return Outgoing(delivery.id, delivery.key, None, error)


def _compose_leased(token: str) -> list[Outgoing]:
    """Compose what is still leased to `token`. A lease that ran out while the job waited in the
    queue is renewed first, unless a sweep has meanwhile leased those deliveries to another job
    (they then carry its token): in a flood, mail is not handed out twice for nothing."""
    _renew_lease(token)
    rows = db.session.execute(
        select(Delivery, User)
        .join(User, User.id == Delivery.user_id)
        .where(Delivery.lease_token == token, Delivery.state == DeliveryState.PENDING)
        .order_by(Delivery.id)
    ).all()
    batch = Batch.load([delivery for delivery, _ in rows])
    outgoing = [_compose_one(delivery, user, batch) for delivery, user in rows]
    db.session.commit()  # end the read (and keep what composing wrote) before the first send
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


ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


def _record_sent(item: Outgoing, token: str, state: DeliveryState = DeliveryState.SENT) -> None:
    message_id = item.message["Message-ID"] if item.message is not None else None
    if db.engine.dialect.name == "postgresql":
        db.session.execute(ASYNC_COMMIT)
    db.session.execute(
        _mine(item.delivery_id, token).values(
            state=state, sent_at=now_utc(), message_id=message_id, lease_token=None, lease_until=None
        )
    )
    db.session.commit()


def _describe(error: Exception) -> str:
    if isinstance(error, TransientMailError | PermanentMailError):
        return str(error)  # already says what the server answered
    return f"{type(error).__name__}: {error}"


def _record_failure(item: Outgoing, token: str, error: Exception, *, permanent: bool) -> None:
    config = current_app.config
    delays = config["MAIL_RETRY_DELAYS"]
    attempts = db.session.scalar(select(Delivery.attempts).where(Delivery.id == item.delivery_id)) + 1
    give_up = permanent or attempts >= len(delays) + 1
    message = _describe(error)
    values = {"attempts": attempts, "last_error": message[:2000], "lease_token": None, "lease_until": None}
    if give_up:
        values["state"] = DeliveryState.FAILED
        log.error(
            "delivery %s (%s) failed after %s attempt(s): %s", item.delivery_id, item.key, attempts, message
        )
    else:
        values["not_before"] = now_utc() + timedelta(seconds=delays[attempts - 1])
        log.warning("delivery %s (%s) will be retried: %s", item.delivery_id, item.key, message)
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


def _send_one(mailer, item: Outgoing, token: str) -> str:
    """Send one composed delivery and record what happened; returns the outcome's name."""
    if item.error is not None:
        _record_failure(item, token, item.error, permanent=True)
        return "failed"
    if item.message is None:
        _record_sent(item, token, DeliveryState.SKIPPED)
        return "skipped"
    try:
        mailer.send(item.message)
    except TransientMailError as error:
        _record_failure(item, token, error, permanent=False)
        return "retry"
    except Exception as error:  # PermanentMailError, or a message the mail library cannot send
        log.exception("delivery %s (%s) cannot be sent", item.delivery_id, item.key)
        _record_failure(item, token, error, permanent=True)
        return "failed"
    _record_sent(item, token)
    return "sent"


def send_leased(token: str) -> dict[str, int]:
    """Send the deliveries leased to `token`; returns how many were sent, skipped, retried, failed."""
    outgoing = _compose_leased(token)
    counts = {"sent": 0, "skipped": 0, "retry": 0, "failed": 0}
    renew_every = current_app.config["DELIVERY_LEASE_SECONDS"] / 3
    renew_at = time.monotonic() + renew_every
    with open_mailer() as mailer:
        for item in outgoing:
            if time.monotonic() > renew_at:
                _renew_lease(token)
                renew_at = time.monotonic() + renew_every
            counts[_send_one(mailer, item, token)] += 1
    return counts
