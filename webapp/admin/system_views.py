"""The admin pages about the system: the overview (the landing page), failed jobs and failed
mail with their retry and discard actions. Routes of the admin blueprint (views.py), admins only.

An action answers htmx with its section redrawn and a message, a plain form with a redirect to
its page and the message flashed; a refused one is a 409 saying why, a missing one a 404.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, g, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError

from ..ops import readiness
from ..pagination import before_arg
from ..responses import render, see_other, wants_fragment
from ..tasks.queries import parse_id
from ..timezones import now_utc
from . import job_failures, mail_failures
from .overview import overview
from .services import AdminRuleBroken
from .site_stats import COUNT_EVERY_MINUTES
from .views import ID, bp, page_size

REDIS_DOWN = "Redis does not answer, so nothing was changed. Please try again in a moment."


@bp.get("/")
def index():
    checks = g.get("readiness") or readiness.check()  # asked once a request (views._review_alerts)
    return render(
        "admin/overview.html", overview=overview(now_utc(), checks), count_every=COUNT_EVERY_MINUTES
    )


def _acted(act: Callable[[], str], page: Callable[[str | None], object], endpoint: str):
    """Run an action that returns its message; answer as the module's docstring says."""
    try:
        message = act()
    except AdminRuleBroken as refused:
        abort(409, str(refused))
    except RedisError:
        abort(503, REDIS_DOWN)
    if wants_fragment():
        return page(message)
    flash(message, "success")
    return see_other(url_for(endpoint))


def _actor():
    return current_user._get_current_object()


# --- failed jobs ---------------------------------------------------------------------------------


@bp.get("/jobs/failed")
def failed_jobs():
    return _failed_jobs_page()


def _failed_jobs_page(message: str | None = None):
    try:
        jobs = job_failures.failed_jobs()
    except RedisError:
        jobs = None
    return render("admin/failed_jobs.html", "admin/_failed_jobs.html", jobs=jobs, message=message)


def _job_action(act: Callable[[], str]):
    return _acted(act, _failed_jobs_page, "admin.failed_jobs")


@bp.post("/jobs/failed/<job_id>/retry")
def retry_failed_job(job_id: str):
    return _job_action(lambda: job_failures.retry(_actor(), job_id))


@bp.post("/jobs/failed/<job_id>/delete")
def delete_failed_job(job_id: str):
    return _job_action(lambda: job_failures.delete(_actor(), job_id))


@bp.post("/jobs/failed/retry-all")
def retry_all_failed_jobs():
    return _job_action(lambda: job_failures.retry_all(_actor()))


@bp.post("/jobs/failed/delete-all")
def delete_all_failed_jobs():
    return _job_action(lambda: job_failures.delete_all(_actor()))


# --- failed mail ---------------------------------------------------------------------------------


@bp.get("/mail/failed")
def failed_mail():
    """Newest first; ?before=<id> is the next page (htmx appends just its rows)."""
    before = before_arg("That “More failed mail” link is broken. Please open the failed mail again.")
    return _failed_mail_page(before=before)


def _failed_mail_page(message: str | None = None, before: int | None = None):
    page = mail_failures.failed_mail_page(before, page_size())
    more_url = url_for("admin.failed_mail", before=page.older_than) if page.older_than else None
    return render(
        "admin/failed_mail.html",
        "admin/_failed_mail_items.html" if before is not None else "admin/_failed_mail.html",
        failures=page,
        more_url=more_url,
        before=before,
        message=message,
    )


def _mail_action(act: Callable[[], str]):
    return _acted(act, _failed_mail_page, "admin.failed_mail")


def _up_to() -> int:
    """The newest failed mail the page showed: what "all" covers."""
    up_to = parse_id(request.form.get("up_to", ""))
    if up_to is None:
        abort(400, "That form is out of date. Please open the failed mail again.")
    return up_to


@bp.post(f"/mail/failed/<{ID}:delivery_id>/retry")
def retry_failed_mail(delivery_id: int):
    return _mail_action(lambda: mail_failures.retry(_actor(), delivery_id))


@bp.post(f"/mail/failed/<{ID}:delivery_id>/discard")
def discard_failed_mail(delivery_id: int):
    return _mail_action(lambda: mail_failures.discard(_actor(), delivery_id))


@bp.post("/mail/failed/retry-all")
def retry_all_failed_mail():
    up_to = _up_to()
    return _mail_action(lambda: mail_failures.retry_all(_actor(), up_to))


@bp.post("/mail/failed/discard-all")
def discard_all_failed_mail():
    up_to = _up_to()
    return _mail_action(lambda: mail_failures.discard_all(_actor(), up_to))
