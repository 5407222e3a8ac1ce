"""The admin dashboard: users (search, summary, role, deactivation, password reset) and the audit
log; the overview, failed jobs and failed mail are in system_views.py, on the same blueprint.
Admins only: see access.py. Pages are never cached: what they show changes with every action,
and only a few people look at them."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, request, url_for
from flask_login import current_user

from ..models import MAX_ID, Status
from ..ops import alerts
from ..pagination import before_arg
from ..reminders.dispatch import request_hand_out
from ..responses import render, see_other, wants_fragment
from . import jobs_dashboard, services
from .access import refuse_all_but_admins
from .models import AuditAction

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(refuse_all_but_admins)


@bp.before_request
def _review_alerts() -> None:
    """Every admin page shows the alerts in force (admin/base.html), reviewed as it is asked for."""
    if request.method == "GET" and not wants_fragment():
        g.readiness = alerts.check_and_review(request_hand_out)  # the overview shows them too
        g.alerts = alerts.problems(g.readiness)


@bp.context_processor
def _jobs_dashboard_link() -> dict:
    return {"jobs_dashboard_url": jobs_dashboard.url(), "alerts": g.get("alerts", {})}


ID = f"int(max={MAX_ID})"
SEARCH_MAX = 254  # the longest e-mail address
USER_RESULTS = "admin/_user_results.html"
MORE_USERS = "admin/_user_items.html"
USER = "admin/_user.html"
MORE_ENTRIES = "admin/_audit_items.html"


def page_size() -> int:
    return current_app.config["ADMIN_PAGE_SIZE"]


@bp.get("/users")
def users():
    """Newest accounts first; ?q= searches addresses (htmx swaps the results as one types),
    ?before=<id> is the next page (htmx appends just its rows)."""
    search = (request.args.get("q") or "").strip()[:SEARCH_MAX]
    before = before_arg("That “More users” link is broken. Please open the user list again.")
    page = services.users_page(search, before, page_size())
    more_url = url_for("admin.users", q=search or None, before=page.older_than) if page.older_than else None
    return render(
        "admin/users.html",
        MORE_USERS if before is not None else USER_RESULTS,
        users=page.items,
        more_url=more_url,
        search=search,
        before=before,
    )


@bp.get(f"/users/<{ID}:user_id>")
def user(user_id: int):
    return _user_page(services.user_or_404(user_id))


def _user_page(user, message: str | None = None):
    return render(
        "admin/user.html", USER, summary=services.user_summary(user), statuses=list(Status), message=message
    )


def _acted(user, message: str):
    """After a change: htmx gets the user's section with the message; a plain form goes back to
    the user's page. An admin who removed their own admin role goes to their dashboard."""
    if user.id == current_user.id and not user.is_admin:
        flash(message, "success")
        return see_other(url_for("dashboard.home"))
    if wants_fragment():
        return _user_page(user, message)
    flash(message, "success")
    return see_other(url_for("admin.user", user_id=user.id))


def _act(user_id: int, action: AuditAction):
    """Apply an account action; a refused one is a 409 saying why."""
    user = services.user_or_404(user_id)
    try:
        message = services.ACTIONS[action].apply(current_user._get_current_object(), user)
    except services.AdminRuleBroken as refused:
        abort(409, str(refused))
    return _acted(user, message)


# The account actions: POST /admin/users/<id>/<path>, each named after its action (admin.promote).
ACTION_PATHS = {
    AuditAction.DEACTIVATE: "deactivate",
    AuditAction.REACTIVATE: "reactivate",
    AuditAction.PROMOTE: "promote",
    AuditAction.DEMOTE: "demote",
    AuditAction.SEND_PASSWORD_RESET: "password-reset",
}


def _action_view(action: AuditAction):
    def view(user_id: int):
        return _act(user_id, action)

    view.__name__ = view.__qualname__ = action.value  # what Flask-WTF names the view by
    return view


for _action, _path in ACTION_PATHS.items():
    bp.add_url_rule(f"/users/<{ID}:user_id>/{_path}", view_func=_action_view(_action), methods=["POST"])


@bp.get("/audit")
def audit():
    """The audit log, newest first; ?before=<id> is the next page (htmx appends its rows)."""
    before = before_arg("That “Older entries” link is broken. Please open the audit log again.")
    page = services.audit_page(before, page_size())
    more_url = url_for("admin.audit", before=page.older_than) if page.older_than else None
    return render(
        "admin/audit.html",
        MORE_ENTRIES if before is not None else None,
        entries=page.items,
        more_url=more_url,
        before=before,
    )


from . import system_views  # noqa: E402, F401  (its routes are on bp)
