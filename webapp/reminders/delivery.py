"""Sending leased deliveries: compose each mail, send them over one connection, record each result.

A send job owns the deliveries leased to its token. It composes every mail first, then sends one
by one and records "sent" right after the SMTP server accepted the message, in a statement of
its own, so a crash loses at most the one message in flight — which is then still pending
and goes out when the lease runs out. Transient failures come back later with backoff; after
the last try the delivery is marked failed, with the error, and logged.

One bad delivery never holds up the others: a mail that cannot be composed or built, or that the
server refuses for good, is marked failed with its error and the job goes on with the next.

Results are written on one autocommit connection, a single statement each. On PostgreSQL they
are committed with synchronous_commit off: the worker does not wait for the mark to reach the
disk (an fsync per mail made PostgreSQL a third slower than SQLite).
A worker crash loses nothing by it; only a crash of the database server itself can lose the
marks of its last moments (at most three times wal_writer_delay, 0.6 s by default), and those mails are
then sent again when their lease runs out, with the same Message-ID.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message

from flask import current_app
from sqlalchemy import Connection, bindparam, select, update

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
    rows = db.session.execute(
        select(Delivery, User)
        .join(User, User.id == Delivery.user_id)
        .where(Delivery.lease_token == token, Delivery.state == DeliveryState.PENDING)
        .order_by(Delivery.id)
    ).all()
    batch = Batch.load(rows)
    outgoing = [_compose_one(delivery, user, batch) for delivery, user in rows]
    db.session.commit()  # end the read (and keep what composing wrote) before the first send
    return outgoing


DELIVERIES = Delivery.__table__.c
_HELD_BY_THIS_JOB = (
    DELIVERIES.id == bindparam("delivery_id"),
    DELIVERIES.lease_token == bindparam("token"),
    DELIVERIES.state == DeliveryState.PENDING,
)
# Built once: it runs once per mail, and building it cost twice as much as running it.
RECORD_DONE = (
    update(Delivery.__table__)
    .where(*_HELD_BY_THIS_JOB)
    .values(
        state=bindparam("outcome"),
        sent_at=bindparam("done_at"),
        message_id=bindparam("sent_message_id"),
        lease_token=None,
        lease_until=None,
    )
)


def _describe(error: Exception) -> str:
    if isinstance(error, TransientMailError | PermanentMailError):
        return str(error)  # already says what the server answered
    return f"{type(error).__name__}: {error}"


class Records:
    """Where a send job writes down what happened to each of its deliveries.

    One autocommit connection for the whole job: each record is a single statement, committed on
    its own, one round trip (no BEGIN and COMMIT around it). Table-level statements, not the
    ORM's: they run once per mail. On PostgreSQL, without waiting for the disk (see above)."""

    def __init__(self, connection: Connection, token: str) -> None:
        self._connection = connection
        self._token = token

    @classmethod
    @contextmanager
    def open(cls, token: str) -> Iterator[Records]:
        postgres = db.engine.dialect.name == "postgresql"
        with db.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            if postgres:
                connection.exec_driver_sql("SET synchronous_commit TO OFF")
            try:
                yield cls(connection, token)
            finally:
                if postgres:  # the connection goes back to the pool as it came
                    connection.exec_driver_sql("RESET synchronous_commit")

    def renew_lease(self) -> None:
        """Hold the job's deliveries for another lease period. Also run at the start: a lease that
        ran out while the job waited in the queue is renewed, unless a sweep has meanwhile leased
        those deliveries to another job (they then carry its token), so in a flood no mail is
        handed out twice for nothing."""
        until = now_utc() + timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
        self._connection.execute(
            update(Delivery.__table__)
            .where(DELIVERIES.lease_token == self._token, DELIVERIES.state == DeliveryState.PENDING)
            .values(lease_until=until, not_before=until)  # see dispatch.lease_ready_deliveries
        )

    def sent(self, item: Outgoing, state: DeliveryState = DeliveryState.SENT) -> None:
        self._connection.execute(
            RECORD_DONE,
            {
                "delivery_id": item.delivery_id,
                "token": self._token,
                "outcome": state,
                "done_at": now_utc(),
                "sent_message_id": item.message["Message-ID"] if item.message is not None else None,
            },
        )

    def failure(self, item: Outgoing, error: Exception, *, permanent: bool) -> None:
        delays = current_app.config["MAIL_RETRY_DELAYS"]
        attempts = self._connection.scalar(
            select(DELIVERIES.attempts).where(DELIVERIES.id == item.delivery_id)
        )
        attempts += 1
        message = _describe(error)
        values = {
            "attempts": attempts,
            "last_error": message[:2000],
            "lease_token": None,
            "lease_until": None,
        }
        if permanent or attempts >= len(delays) + 1:
            values["state"] = DeliveryState.FAILED
            log.error(
                "delivery %s (%s) failed after %s attempt(s): %s",
                item.delivery_id,
                item.key,
                attempts,
                message,
            )
        else:
            values["not_before"] = now_utc() + timedelta(seconds=delays[attempts - 1])
            log.warning("delivery %s (%s) will be retried: %s", item.delivery_id, item.key, message)
        self._connection.execute(
            update(Delivery.__table__).where(*_HELD_BY_THIS_JOB).values(**values),
            {"delivery_id": item.delivery_id, "token": self._token},
        )


def _send_one(mailer, item: Outgoing, records: Records) -> str:
    """Send one composed delivery and record what happened; returns the outcome's name."""
    if item.error is not None:
        records.failure(item, item.error, permanent=True)
        return "failed"
    if item.message is None:
        records.sent(item, DeliveryState.SKIPPED)
        return "skipped"
    try:
        mailer.send(item.message)
    except TransientMailError as error:
        records.failure(item, error, permanent=False)
        return "retry"
    except Exception as error:  # PermanentMailError, or a message the mail library cannot send
        log.exception("delivery %s (%s) cannot be sent", item.delivery_id, item.key)
        records.failure(item, error, permanent=True)
        return "failed"
    records.sent(item)
    return "sent"


def send_leased(token: str) -> dict[str, int]:
    """Send the deliveries leased to `token`; returns how many were sent, skipped, retried, failed."""
    counts = {"sent": 0, "skipped": 0, "retry": 0, "failed": 0}
    renew_every = current_app.config["DELIVERY_LEASE_SECONDS"] / 3
    with Records.open(token) as records, open_mailer() as mailer:
        records.renew_lease()
        renew_at = time.monotonic() + renew_every
        for item in _compose_leased(token):
            if time.monotonic() > renew_at:
                records.renew_lease()
                renew_at = time.monotonic() + renew_every
            counts[_send_one(mailer, item, records)] += 1
    return counts
