"""Time is UTC in the database; these convert at the edges, in the user's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

END_OF_DAY = time(23, 59)


@cache
def all_timezones() -> tuple[str, ...]:
    return tuple(sorted(name for name in available_timezones() if "/" in name or name == "UTC"))


def is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return name in all_timezones()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def now_utc() -> datetime:
    return datetime.now(UTC)


def to_local(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(zone(tz_name))


def local_to_utc(day: date, at: time, tz_name: str) -> datetime:
    """A wall-clock time in the user's zone as UTC (a time skipped by DST moves forward)."""
    local = datetime.combine(day, at).replace(tzinfo=zone(tz_name))
    return local.astimezone(UTC)


def local_day_bounds(day: date, tz_name: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, in UTC."""
    start = local_to_utc(day, time(0), tz_name)
    end = local_to_utc(day + timedelta(days=1), time(0), tz_name)
    return start, end


def local_today(tz_name: str, now: datetime | None = None) -> date:
    return to_local(now or now_utc(), tz_name).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())
