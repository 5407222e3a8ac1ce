"""The dashboard: where the user's work stands today."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user, login_required

from ..cache import cached_view
from ..models import Status
from ..responses import render
from . import services

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@login_required
@cached_view("dashboard")
def home():
    return render(
        "dashboard/home.html",
        "dashboard/_summary.html",
        summary=services.summary(current_user),
        statuses=list(Status),
        back="/",
    )
