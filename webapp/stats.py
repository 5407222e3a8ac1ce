"""Counters kept in Redis, so every instance and worker adds to the same numbers: job outcomes,
rate-limit refusals and the users active each day (shown by /metrics and the admin dashboard).
This module spells their keys."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

JOB_OUTCOMES = ("succeeded", "failed")
ACTIVE_DAYS_KEPT = 40  # a 30-day chart, and some to spare
RATE_LIMITED_KEY = "stats:rate-limited"


def _job_key(outcome: str) -> str:
    return f"stats:jobs:{outcome}"


def count_job(connection: redis.Redis, outcome: str) -> None:
    connection.incr(_job_key(outcome))


def job_outcomes(connection: redis.Redis) -> dict[str, int]:
    values = connection.mget([_job_key(outcome) for outcome in JOB_OUTCOMES])
    return {outcome: int(value or 0) for outcome, value in zip(JOB_OUTCOMES, values, strict=True)}


def count_rate_limit_refusal(connection: redis.Redis) -> None:
    """Best effort: a refused request is answered whether or not Redis hears of it."""
    try:
        connection.incr(RATE_LIMITED_KEY)
    except RedisError as error:
        log.warning("a rate-limit refusal was not counted: %s", error)


def rate_limit_refusals(connection: redis.Redis) -> int:
    return int(connection.get(RATE_LIMITED_KEY) or 0)


def _active_key(day: date) -> str:
    return f"stats:active:{day.isoformat()}"


def count_active(pipeline: redis.client.Pipeline, user_id: int, day: date) -> None:
    """Add the user to the day's active users (a HyperLogLog: 12 KB a day however many)."""
    key = _active_key(day)
    pipeline.pfadd(key, user_id).expire(key, ACTIVE_DAYS_KEPT * 24 * 3600)


def active_users(connection: redis.Redis, days: Iterable[date]) -> int:
    """How many users were active on any of these days (UTC), within about 1%."""
    return connection.pfcount(*(_active_key(day) for day in days))
