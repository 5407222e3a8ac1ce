"""Time is UTC in the database; these convert at the edges, in the user's own time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

END_OF_DAY = time(23, 59)

# Every zone is less than a day from UTC, so every zone can show a UTC moment between these two
# (a moment a day nearer the ends of the calendar overflows it in some zone).
EARLIEST = datetime.combine(date.min + timedelta(days=1), time(), UTC)
LATEST = datetime.combine(date.max, time(), UTC)
# The days a person may pick, for a due date or a reminder: any time of them, in any zone, falls
# between EARLIEST and LATEST, so the task shows in every zone its owner may switch to.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9999, 12, 29)


@cache
def all_timezones() -> tuple[str, ...]:
    return tuple(sorted(_known_zones()))


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(name for name in available_timezones() if "/" in name or name == "UTC")


@cache
def _zones_by_folded_name() -> dict[str, str]:
    return {_folded(name): name for name in _known_zones()}


def _folded(name: str) -> str:
    return "_".join(name.split()).casefold()


def known_timezone(typed: str) -> str | None:
    """The zone a person typed, however they wrote its case and spaces ("america/new york" is
    "America/New_York"), or None if it is none of ours."""
    return _zones_by_folded_name().get(_folded(typed))


def is_timezone(name: str) -> bool:
    """One of the zones we offer. Only those reach ZoneInfo: any other text could name a file
    (a 5,000-character name raised OSError)."""
    return name in _known_zones()


def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name if is_timezone(name) else "UTC")


def on_the_calendar(moment: datetime) -> bool:
    """Every zone can show this moment."""
    return EARLIEST <= moment <= LATEST


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment` moved by `delta`, stopping at the ends of what every zone can show."""
    if delta > LATEST - moment:
        return LATEST
    if delta < EARLIEST - moment:
        return EARLIEST
    return moment + delta


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
