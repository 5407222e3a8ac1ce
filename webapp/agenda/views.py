"""Today and Upcoming; each answers the whole page, or for htmx (a re-fetch after a change) its
lists alone."""

from __future__ import annotations

from flask import Blueprint, url_for
from flask_login import current_user, login_required

from ..cache import cached_view
from ..responses import render
from . import services

bp = Blueprint("agenda", __name__)


@bp.get("/today")
@login_required
@cached_view("today")
def today():
    return render(
        "agenda/today.html",
        "agenda/_today.html",
        **services.today(current_user),
        back=url_for("agenda.today"),
    )


@bp.get("/upcoming")
@login_required
@cached_view("upcoming")
def upcoming():
    days, section = services.upcoming(current_user)
    return render(
        "agenda/upcoming.html",
        "agenda/_upcoming.html",
        days=days,
        section=section,
        back=url_for("agenda.upcoming"),
    )
