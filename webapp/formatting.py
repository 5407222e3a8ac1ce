"""Template filters that show UTC times in the current user's time zone."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from flask_login import current_user

from .timezones import local_today, to_local


def _user_tz() -> str:
    return getattr(current_user, "timezone", None) or "UTC"


def local_datetime(moment: datetime | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    return "" if moment is None else to_local(moment, _user_tz()).strftime(fmt)


def due_label(moment: datetime | None, all_day: bool) -> str:
    """'Today', 'Tomorrow 14:00', 'Mon 3 Dec' … in the user's zone."""
    if moment is None:
        return ""
    tz = _user_tz()
    local = to_local(moment, tz)
    days = (local.date() - local_today(tz)).days
    day = {0: "Today", 1: "Tomorrow", -1: "Yesterday"}.get(days) or local.strftime("%a %-d %b %Y")
    return day if all_day else f"{day} {local:%H:%M}"


def register(app: Flask) -> None:
    app.add_template_filter(local_datetime, "local_datetime")
    app.add_template_filter(due_label, "due_label")
