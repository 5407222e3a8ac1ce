"""Counters kept in Redis, so every instance and worker adds to the same numbers: job outcomes and
rate-limit refusals (shown by /metrics and the admin dashboard). This module spells their keys."""

from __future__ import annotations

import logging

import redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

JOB_OUTCOMES = ("succeeded", "failed")
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
