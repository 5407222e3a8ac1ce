"""Times shown to a person, in that person's time zone.

`local_datetime` and `due_label` take the zone explicitly: a worker rendering a mail has no
current user, so the caller says whose zone it is. Templates use them as filters, which read the
zone from the template's `zone` variable: web pages get the signed-in user's zone from a context
processor, mails and notifications pass the recipient's. A template rendered without a zone is a
bug and fails loudly, instead of quietly showing UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask import Flask, has_request_context
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context

from .timezones import local_today, to_local
from .timezones import zone as zone_info

DATETIME_FORMAT = "%a %d %b %Y, %H:%M"
NEAR_DAYS = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}
# strftime's %a and %b in the C locale the app runs in, spelled out: a list labels 50 dates, and
# strftime costs several times what the f-strings below do.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_datetime(moment: datetime | None, zone: str, fmt: str = DATETIME_FORMAT) -> str:
    return "" if moment is None else to_local(moment, zone).strftime(fmt)


def due_label(moment: datetime | None, all_day: bool, zone: str, now: datetime | None = None) -> str:
    """'Today', 'Tomorrow 14:00', 'Mon 3 Dec 2026' … in `zone`, relative to `now`."""
    return "" if moment is None else due_labeller(zone, now)(moment, all_day)


def due_labeller(zone: str, now: datetime | None = None) -> Callable[[datetime, bool], str]:
    """due_label for many tasks shown together: the zone and its today are looked up once."""
    tz = zone_info(zone)
    today = local_today(zone, now)

    def label(moment: datetime, all_day: bool) -> str:
        local = moment.astimezone(tz)
        day = NEAR_DAYS.get((local.date() - today).days)
        if day is None:
            day = f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]} {local.year}"
        return day if all_day else f"{day} {local.hour:02}:{local.minute:02}"

    return label


def day_heading(day: date, today: date) -> str:
    """'Today', 'Tomorrow', 'Thu 3 Dec': a day of the coming week."""
    return NEAR_DAYS.get((day - today).days) or f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


class MissingZone(LookupError):
    """A template showed a time without saying whose time zone it is in."""


def template_zone(context: Context) -> str:
    """The zone a template shows times in (see the module's docstring)."""
    zone = context.get("zone")
    if not zone:
        raise MissingZone(f"{context.name} shows a time but was rendered without a `zone`")
    return zone


@pass_context
def _local_datetime_filter(context: Context, moment: datetime | None, fmt: str = DATETIME_FORMAT) -> str:
    return local_datetime(moment, template_zone(context), fmt)


@pass_context
def _due_label_filter(context: Context, moment: datetime | None, all_day: bool) -> str:
    return due_label(moment, all_day, template_zone(context))


def _viewer_zone() -> dict[str, str]:
    """Pages show times in the signed-in user's zone (UTC for visitors). Not in jobs: no request."""
    if not has_request_context():
        return {}
    return {"zone": getattr(current_user, "timezone", None) or "UTC"}


def thousands(number: int) -> str:
    """1234567 -> "1,234,567"."""
    return f"{number:,}"


def register(app: Flask) -> None:
    app.add_template_filter(_local_datetime_filter, "local_datetime")
    app.add_template_filter(thousands, "thousands")
    app.add_template_filter(_due_label_filter, "due_label")
    app.context_processor(_viewer_zone)
