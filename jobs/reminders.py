"""Reminder jobs: the sweep (every minute), overdue planning (hourly), and sending batches."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from flask import current_app
from rq import Queue

from webapp.extensions import queues
from webapp.reminders.delivery import send_leased
from webapp.reminders.dispatch import dispatch_ready, plan_overdue, sweep
from webapp.timezones import now_utc

from . import BULK_MAIL_QUEUE, URGENT_MAIL_QUEUE
from .appcontext import in_app_context


def enqueue_send_jobs(lease_tokens: list[str], *, urgent: bool) -> None:
    """One job per lease, on the urgent or the bulk mail queue; its id is the token, so
    enqueuing the same lease twice adds nothing."""
    timeout = current_app.config["DELIVERY_LEASE_SECONDS"]
    jobs = [
        Queue.prepare_data(
            send_deliveries, (token,), job_id=f"send-{token}", timeout=timeout, result_ttl=3600
        )
        for token in lease_tokens
    ]
    queues.queue(URGENT_MAIL_QUEUE if urgent else BULK_MAIL_QUEUE).enqueue_many(jobs)


def _moment(now: datetime | str | None) -> datetime | None:
    """A job's clock argument: a datetime when called directly, ISO 8601 text when queued (a
    queued job's arguments are JSON)."""
    return datetime.fromisoformat(now) if isinstance(now, str) else now


@in_app_context
def run_sweep(now: datetime | str | None = None) -> dict:
    """Plan due reminders and scheduled mails, then hand ready deliveries to send jobs."""
    return asdict(sweep(_moment(now), enqueue=enqueue_send_jobs))


@in_app_context
def plan_overdue_mails(now: datetime | str | None = None) -> int:
    """Hourly: mail each user the tasks that became overdue (each task at most once a day)."""
    planned = plan_overdue(_moment(now) or now_utc())
    dispatch_ready(enqueue_send_jobs)
    return planned


@in_app_context
def hand_out_mail() -> int:
    """Hand ready deliveries to send jobs now, instead of at the next sweep (after a reset request)."""
    leased, _ = dispatch_ready(enqueue_send_jobs)
    return leased


@in_app_context
def send_deliveries(lease_token: str) -> dict[str, int]:
    return send_leased(lease_token)
