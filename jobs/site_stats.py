"""Counting the admin overview's figures, every few minutes (webapp/admin/site_stats.py)."""

from __future__ import annotations

from datetime import datetime

from webapp.admin.site_stats import count_site_figures
from webapp.timezones import now_utc

from .appcontext import in_app_context


@in_app_context
def count_overview_figures(now: str | None = None) -> dict:
    """Count and store the figures as of `now` (ISO 8601 text, as a queued job's arguments are
    JSON; the real clock when omitted)."""
    return count_site_figures(datetime.fromisoformat(now) if now else now_utc())
