"""Who may use each route: every route of the app's url_map, each method, as a visitor, as the
owner of what the URL names, as another user and as an admin. A route missing from ACCESS fails
the suite.

The owner's requests are allowed (whatever the form makes of an empty post); another user's
are 404, as if the object did not exist, and so are an admin's (admins manage accounts, they do
not see people's tasks); a visitor is sent to log in. Admin pages (and rq-dashboard) are for
admins: anyone else signed in gets 403. Each request gets fresh objects, so what one request
deletes or moves cannot decide the next one's answer."""

from __future__ import annotations

from datetime import timedelta
from secrets import token_hex

import pytest
from flask import url_for

from webapp.extensions import db
from webapp.models import Project
from webapp.reminders.models import Delivery, DeliveryState, Notification, Reminder
from webapp.tasks.services import delete_task
from webapp.timezones import now_utc

from .support import add_task

PUBLIC = "public"  # anyone; the URL's token, if any, is the credential
SIGNED_IN = "signed in"  # any signed-in user, about their own data
OWNER = "owner"  # only the owner of the task, project, reminder or notification it names
SCRAPER = "scraper"  # admins, or with METRICS_TOKEN: not there (404) for anyone else
ADMIN = "admin"  # only admins
PROBE = "probe"  # anyone, never a 500: 200, or 503 when not ready (no worker runs here)
ACCESS = {
    "static": PUBLIC,
    "auth.signup": PUBLIC,
    "auth.login": PUBLIC,
    "auth.reset_request": PUBLIC,
    "auth.reset_confirm": PUBLIC,
    "auth.check_inbox": PUBLIC,
    "auth.confirm_email": PUBLIC,
    "auth.new_confirmation_link": PUBLIC,
    "auth.email_confirmed": PUBLIC,
    "reminders.unsubscribe": PUBLIC,
    "reminders.unsubscribe_one_click": PUBLIC,
    "auth.outbox": PUBLIC,  # development only: the mails the app would have sent
    "auth.outbox_message": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.profile": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.end_others": SIGNED_IN,
    "auth.send_confirmation_again": SIGNED_IN,
    "dashboard.home": SIGNED_IN,
    "projects.index": SIGNED_IN,
    "projects.create": SIGNED_IN,
    "tasks.index": SIGNED_IN,
    "agenda.today": SIGNED_IN,
    "agenda.upcoming": SIGNED_IN,
    "tasks.create": SIGNED_IN,
    "tasks.quick_add_preview": SIGNED_IN,
    "reminders.notifications": SIGNED_IN,
    "reminders.notification_count": SIGNED_IN,
    "reminders.mark_all_read": SIGNED_IN,
    "reminders.resubscribe": SIGNED_IN,
    "projects.show": OWNER,
    "projects.confirm_delete": OWNER,
    "projects.rename": OWNER,
    "projects.archive": OWNER,
    "projects.unarchive": OWNER,
    "projects.delete": OWNER,
    "tasks.show": OWNER,
    "tasks.edit": OWNER,
    "tasks.update": OWNER,
    "tasks.toggle": OWNER,
    "tasks.move": OWNER,
    "tasks.delete": OWNER,
    "tasks.restore": OWNER,
    "projects.inbox": SIGNED_IN,
    "trash.index": SIGNED_IN,
    "trash.confirm_empty": SIGNED_IN,
    "trash.empty": SIGNED_IN,
    "trash.restore": OWNER,
    "trash.delete_forever": OWNER,
    "reminders.add": OWNER,
    "reminders.remove": OWNER,
    "reminders.mark_read": OWNER,
    "reminders.open_notification": OWNER,
    "metrics.metrics": SCRAPER,
    "admin.index": ADMIN,
    "admin.users": ADMIN,
    "admin.user": ADMIN,
    "admin.deactivate": ADMIN,
    "admin.reactivate": ADMIN,
    "admin.promote": ADMIN,
    "admin.demote": ADMIN,
    "admin.send_password_reset": ADMIN,
    "admin.audit": ADMIN,
    "admin.failed_jobs": ADMIN,
    "admin.retry_failed_job": ADMIN,
    "admin.delete_failed_job": ADMIN,
    "admin.retry_all_failed_jobs": ADMIN,
    "admin.delete_all_failed_jobs": ADMIN,
    "admin.failed_mail": ADMIN,
    "admin.retry_failed_mail": ADMIN,
    "admin.discard_failed_mail": ADMIN,
    "admin.retry_all_failed_mail": ADMIN,
    "admin.discard_all_failed_mail": ADMIN,
    "rq_dashboard.static": ADMIN,
    "rq_dashboard.favicon": ADMIN,
    "rq_dashboard.queues_overview": ADMIN,
    "rq_dashboard.workers_overview": ADMIN,
    "rq_dashboard.jobs_overview": ADMIN,
    "rq_dashboard.job_view": ADMIN,
    "rq_dashboard.delete_job_view": ADMIN,
    "rq_dashboard.requeue_job_view": ADMIN,
    "rq_dashboard.requeue_all": ADMIN,
    "rq_dashboard.empty_queue": ADMIN,
    "rq_dashboard.compact_queue": ADMIN,
    "rq_dashboard.list_queues": ADMIN,
    "rq_dashboard.list_jobs": ADMIN,
    "rq_dashboard.job_info": ADMIN,
    "rq_dashboard.list_workers": ADMIN,
    "ops.healthz": PROBE,
    "ops.readyz": PROBE,
}
# URL arguments that differ per route: a file rq-dashboard ships.
ARGUMENTS_OF = {"rq_dashboard.static": {"filename": "css/main.css"}}
IN_THE_TRASH = {"trash.restore", "trash.delete_forever"}  # they name a deleted task
MADE_UP = {"token", "job_id"}  # a made-up token or job: an invalid link, 404
REFUSED_FORM = (400, 409, 422)  # let in, but an empty post is not a valid form


def _routes(app) -> list[tuple[str, str, list[str]]]:
    """Every (endpoint, method, URL arguments); logging out comes last, not to sign the rest out."""
    routes = [
        (rule.endpoint, method, sorted(rule.arguments))
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    return sorted(routes, key=lambda route: route[0] == "auth.logout")


def _fresh_objects_of(user) -> dict[str, int]:
    """A new task (with a reminder), project and notification of `user`: an id per URL argument."""
    project = Project(owner_id=user.id, name=f"Project {now_utc().timestamp()}")
    db.session.add(project)
    db.session.flush()
    task = add_task(user, "Water the plants", project=project)
    deleted = delete_task(add_task(user, "Old list", project=project))
    reminder = Reminder(task_id=task.id, owner_id=user.id, remind_at=now_utc() + timedelta(days=1))
    notification = Notification(key=f"test:{token_hex(8)}", user_id=user.id, title="Hello", body="", url="")
    failed = Delivery(
        key=f"test:{token_hex(8)}", user_id=user.id, kind="reminder", state=DeliveryState.FAILED
    )
    db.session.add_all([reminder, notification, failed])
    db.session.commit()
    return {
        "task_id": task.id,
        "deleted_task_id": deleted.id,
        "project_id": project.id,
        "reminder_id": reminder.id,
        "notification_id": notification.id,
        "delivery_id": failed.id,
        "token": "not-a-real-token",
        "name": "no-such-message.eml",
        "filename": "app.css",
        "user_id": user.id,
        "instance_number": 0,
        "queue_name": "default",
        "registry_name": "failed",
        "per_page": 8,
        "order": "asc",
        "page": 1,
        "job_id": "no-such-job",
    }


def _ask(app, client, endpoint: str, method: str, arguments: list[str], owner):
    ids = _fresh_objects_of(owner) | ARGUMENTS_OF.get(endpoint, {})
    if endpoint in IN_THE_TRASH:
        ids["task_id"] = ids["deleted_task_id"]
    with app.test_request_context():
        url = url_for(endpoint, **{name: ids[name] for name in arguments})
    # Forms that name another object (moving a task) name the owner's.
    return client.open(
        url, method=method, data={"project_id": ids["project_id"]} if method == "POST" else None
    )


def _sent_to_log_in(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers["Location"]


def _allowed(response, access: str, who: str, arguments: list[str]) -> bool:
    status = response.status_code
    if access == SCRAPER:
        return status == (200 if who == "admin" else 404)
    if access == PROBE:
        return status in (200, 503)
    if access == PUBLIC:
        return status < 500
    if who == "visitor":
        return _sent_to_log_in(response)
    if access == ADMIN and who != "admin":
        return status == 403
    if access == OWNER and who in ("another user", "admin"):
        return status == 404
    made_up = (404,) if MADE_UP & set(arguments) else ()
    return status < 400 or status in REFUSED_FORM + made_up


def test_every_route_has_an_entry(app):
    assert {endpoint for endpoint, _, _ in _routes(app)} == set(ACCESS)


@pytest.mark.parametrize("who", ["visitor", "owner", "another user", "admin"])
def test_each_route_answers_as_its_access_says(
    app, client, user, other_client, other_user, admin_client, admin, who
):
    """`user` (Ada) owns what the URLs name; `other_client` is Bob's browser, `admin_client` Grace's."""
    client_for = {
        "owner": client,
        "another user": other_client,
        "admin": admin_client,
        "visitor": app.test_client(),
    }
    wrong = []
    for endpoint, method, arguments in _routes(app):
        response = _ask(app, client_for[who], endpoint, method, arguments, owner=user)
        if not _allowed(response, ACCESS[endpoint], who, arguments):
            wrong.append(f"{method} {endpoint} as {who}: {response.status_code}")
    assert wrong == []
