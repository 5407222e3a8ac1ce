"""`/healthz` and `/readyz`: cheap, open to anyone without logging in, never rate-limited or
cached, and never a 500."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from ..extensions import limiter
from ..reminders.dispatch import request_hand_out
from . import alerts, readiness

bp = Blueprint("ops", __name__)

NOT_STORED = {"Cache-Control": "no-store"}


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    """The process answers: nothing else is asked (no database, no Redis)."""
    return Response("ok\n", 200, NOT_STORED, mimetype="text/plain")


@bp.get("/readyz")
@limiter.exempt
def readyz() -> Response:
    """200 when the database and Redis answer, the scheduler ticks and a worker is alive; 503
    naming what is not. Failed mail is named but does not make it a 503. Asking reviews the
    alerts too (a probe asks often, whether or not an admin looks)."""
    checks = alerts.check_and_review(request_hand_out)
    ready = readiness.is_ready(checks)
    response = jsonify(ready=ready, checks=checks)
    response.status_code = 200 if ready else 503
    response.headers.update(NOT_STORED)
    return response
