"""Times shown to a person, in that person's time zone.

`local_datetime` and `due_label` take the zone explicitly: a worker rendering a mail has no
current user, so the caller says whose zone it is. Templates use them as filters, which read the
zone from the template's `zone` variable: web pages get the signed-in user's zone from a context
processor, mails and notifications pass the recipient's. A template rendered without a zone is a
bug and fails loudly, instead of quietly showing UTC.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, has_request_context
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context

from .timezones import local_today, to_local

DATETIME_FORMAT = "%a %d %b %Y, %H:%M"


def local_datetime(moment: datetime | None, zone: str, fmt: str = DATETIME_FORMAT) -> str:
    return "" if moment is None else to_local(moment, zone).strftime(fmt)


def due_label(moment: datetime | None, all_day: bool, zone: str, now: datetime | None = None) -> str:
    """'Today', 'Tomorrow 14:00', 'Mon 3 Dec 2026' … in `zone`, relative to `now`."""
    if moment is None:
        return ""
    local = to_local(moment, zone)
    days = (local.date() - local_today(zone, now)).days
    day = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get(days) or local.strftime("%a %-d %b %Y")
    return day if all_day else f"{day} {local:%H:%M}"


class MissingZone(LookupError):
    """A template showed a time without saying whose time zone it is in."""


def _zone(context: Context) -> str:
    zone = context.get("zone")
    if not zone:
        raise MissingZone(f"{context.name} shows a time but was rendered without a `zone`")
    return zone


@pass_context
def _local_datetime_filter(context: Context, moment: datetime | None, fmt: str = DATETIME_FORMAT) -> str:
    return local_datetime(moment, _zone(context), fmt)


@pass_context
def _due_label_filter(context: Context, moment: datetime | None, all_day: bool) -> str:
    return due_label(moment, all_day, _zone(context))


def _viewer_zone() -> dict[str, str]:
    """Pages show times in the signed-in user's zone (UTC for visitors). Not in jobs: no request."""
    if not has_request_context():
        return {}
    return {"zone": getattr(current_user, "timezone", None) or "UTC"}


def register(app: Flask) -> None:
    app.add_template_filter(_local_datetime_filter, "local_datetime")
    app.add_template_filter(_due_label_filter, "due_label")
    app.context_processor(_viewer_zone)
