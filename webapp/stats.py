"""Counters kept in Redis, so every instance and worker adds to the same numbers: job outcomes,
rate-limit refusals and the users active each day (shown by /metrics and the admin dashboard).
This module spells their keys."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date

import redis
from redis.exceptions import RedisError

from .timezones import now_utc

log = logging.getLogger(__name__)

JOB_OUTCOMES = ("succeeded", "failed")
DAYS_KEPT = 40  # per-day counters: a 30-day chart, and some to spare
RATE_LIMITED_KEY = "stats:rate-limited"


def _job_key(outcome: str) -> str:
    return f"stats:jobs:{outcome}"


def count_job(connection: redis.Redis, outcome: str) -> None:
    connection.incr(_job_key(outcome))


def job_outcomes(connection: redis.Redis) -> dict[str, int]:
    values = connection.mget([_job_key(outcome) for outcome in JOB_OUTCOMES])
    return {outcome: int(value or 0) for outcome, value in zip(JOB_OUTCOMES, values, strict=True)}


def _refusals_key(day: date) -> str:
    return f"{RATE_LIMITED_KEY}:{day.isoformat()}"


def count_rate_limit_refusal(connection: redis.Redis) -> None:
    """Count a refusal in the total and in today's (UTC) count, in one round trip. Best effort:
    a refused request is answered whether or not Redis hears of it."""
    day_key = _refusals_key(now_utc().date())
    try:
        connection.pipeline(transaction=False).incr(RATE_LIMITED_KEY).incr(day_key).expire(
            day_key, DAYS_KEPT * 24 * 3600
        ).execute()
    except RedisError as error:
        log.warning("a rate-limit refusal was not counted: %s", error)


def rate_limit_refusals(connection: redis.Redis) -> int:
    return int(connection.get(RATE_LIMITED_KEY) or 0)


def rate_limit_refusals_by_day(connection: redis.Redis, days: list[date]) -> dict[date, int]:
    """Refusals on each of these days (UTC); 0 for a day with none, or one kept no longer."""
    values = connection.mget([_refusals_key(day) for day in days])
    return {day: int(value or 0) for day, value in zip(days, values, strict=True)}


def _active_key(day: date) -> str:
    return f"stats:active:{day.isoformat()}"


def count_active(pipeline: redis.client.Pipeline, user_id: int, day: date) -> None:
    """Add the user to the day's active users (a HyperLogLog: 12 KB a day however many)."""
    key = _active_key(day)
    pipeline.pfadd(key, user_id).expire(key, DAYS_KEPT * 24 * 3600)


def active_users(connection: redis.Redis, days: Iterable[date]) -> int:
    """How many users were active on any of these days (UTC), within about 1%."""
    return connection.pfcount(*(_active_key(day) for day in days))


def active_users_by_day(connection: redis.Redis, days: list[date]) -> dict[date, int]:
    """How many users were active on each of these days (UTC), within about 1%: one round trip."""
    pipeline = connection.pipeline(transaction=False)
    for day in days:
        pipeline.pfcount(_active_key(day))
    return dict(zip(days, pipeline.execute(), strict=True))
