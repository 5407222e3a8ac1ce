"""Every route that changes something refuses a request without a valid CSRF token; the few that a
form posts without one by design refuse what another site makes the browser send. The routes come
from the app's url_map: a new one is checked by itself, and a new exemption fails until it is
listed here with what protects it instead."""

from __future__ import annotations

import re

from flask import url_for

from .conftest import AuthActions
from .support import page_text

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Posted without a session token by design, and what protects each instead.
WITHOUT_TOKEN = {
    "auth.login": "its origin (webapp/origin.py)",
    "auth.signup": "its origin",
    "auth.reset_request": "its origin",
    "auth.confirm_email": "its origin, and the secret token in its URL (a visitor follows a mailed link)",
    "auth.new_confirmation_link": "its origin, and the token of the mailed link in its URL",
    "reminders.unsubscribe_one_click": "the signed token in its URL (RFC 8058: mail clients post it)",
    **dict.fromkeys(
        (
            "rq_dashboard.delete_job_view",
            "rq_dashboard.requeue_job_view",
            "rq_dashboard.requeue_all",
            "rq_dashboard.empty_queue",
            "rq_dashboard.compact_queue",
        ),
        "its origin (rq-dashboard's own pages post without our token; admins only)",
    ),
}
ORIGIN_CHECKED = {endpoint for endpoint, why in WITHOUT_TOKEN.items() if "origin" in why}
CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}


def _write_routes(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL) for every route that takes a write method, ids and tokens filled in."""
    routes = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            for method in sorted(rule.methods & WRITE_METHODS):
                url = url_for(rule.endpoint, **dict.fromkeys(rule.arguments, 1))
                routes.append((rule.endpoint, method, url))
    return routes


def _other_browsers_token(app) -> str:
    other = app.test_client()
    AuthActions(other).join(email="mallory@example.com", display_name="Mallory", timezone="UTC")
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text(other.get("/tasks"))).group(1)


def test_every_write_route_refuses_a_missing_or_foreign_token(csrf_on, app, admin_client, admin):
    """As an admin, whom every route lets in: a refusal can only be the token's."""
    client = admin_client
    foreign_token = _other_browsers_token(app)
    without_token = set()

    for endpoint, method, url in _write_routes(app):
        missing = client.open(url, method=method)
        foreign = client.open(url, method=method, data={"csrf_token": foreign_token})
        if missing.status_code == 400:
            assert foreign.status_code == 400, f"{method} {url} took another browser's token"
        else:
            without_token.add(endpoint)

    assert without_token == set(WITHOUT_TOKEN), "a route takes writes without a token: say why above"


def test_forms_posted_without_a_token_refuse_what_another_site_sends(
    csrf_on, app, client, admin_client, admin
):
    """A visitor's browser for the anonymous forms; an admin's for rq-dashboard, which lets only
    admins in: a 403 can only be the origin check's."""
    for endpoint, method, url in _write_routes(app):
        if endpoint in ORIGIN_CHECKED:
            browser = admin_client if endpoint.startswith("rq_dashboard.") else client
            assert browser.open(url, method=method, headers=CROSS_SITE).status_code == 403, url
