"""Cache hits answered in front of Flask (webapp/cache_hits.py): the very answer Flask's path
gives, and Flask's path whenever its answer would differ. Every other cache test runs through the
shortcut too: invalidation, isolation between users, revocation, Redis down."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from flask import request, request_started

from webapp.cache import cache_stats
from webapp.cache_hits import ServeCacheHits
from webapp.extensions import db
from webapp.models import User
from webapp.projects.services import ensure_inbox

from .support import page_text, page_without_tokens
from .test_cache import HTMX, _sign_up, _visit_twice


@contextmanager
def paths_reaching_flask(app):
    """The paths of the requests Flask itself handled while the block ran."""
    reached: list[str] = []

    def note(_sender, **_extra) -> None:
        reached.append(request.path)

    request_started.connect(note, app)
    try:
        yield reached
    finally:
        request_started.disconnect(note, app)


@contextmanager
def without_the_shortcut(app):
    """Flask answers every request: the shortcut is taken out of the chain of WSGI layers
    (request log, metrics, proxies), wherever it stands in it."""
    holder, name = app, "wsgi_app"
    while not isinstance(layer := getattr(holder, name), ServeCacheHits):
        holder, name = layer, "app"
    setattr(holder, name, layer.app)
    try:
        yield
    finally:
        setattr(holder, name, layer)


@pytest.fixture
def signed_in(csrf_on, app):
    """A browser signed up with CSRF protection on (cached pages then hold a token), past the
    welcome message."""
    client = app.test_client()
    _sign_up(client)
    client.get("/profile")
    return client


def _cached_urls() -> list[tuple[str, dict]]:
    inbox = ensure_inbox(db.session.scalar(db.select(User)))
    db.session.commit()
    return [
        ("/tasks", {}),
        ("/tasks?sort=due", HTMX),
        ("/", {}),
        (f"/projects/{inbox.id}", {}),
        ("/notifications/count", HTMX),
    ]


def _same_for_every_request(response) -> dict[str, str]:
    """The headers, less the one that names the request (webapp/logs.py)."""
    return {name: value for name, value in response.headers.items() if name != "X-Request-ID"}


def test_a_hit_gets_the_answer_flask_gives_without_reaching_flask(app, signed_in):
    for url, headers in _cached_urls():
        _visit_twice(signed_in, url, headers=headers)

        with paths_reaching_flask(app) as reached:
            hit = signed_in.get(url, headers=headers)
        with without_the_shortcut(app), paths_reaching_flask(app) as reached_flask:
            from_flask = signed_in.get(url, headers=headers)

        assert reached == [] and len(reached_flask) == 1, url
        assert (hit.status_code, _same_for_every_request(hit)) == (
            from_flask.status_code,
            _same_for_every_request(from_flask),
        ), url
        assert hit.headers["X-Request-ID"] != from_flask.headers["X-Request-ID"], "each request has its id"
        assert page_without_tokens(hit) == page_without_tokens(from_flask), url
        assert "Set-Cookie" not in hit.headers


def test_the_bell_answers_304_before_flask_and_counts_it(app, signed_in):
    tag = signed_in.get("/notifications/count", headers=HTMX).headers["ETag"]

    with paths_reaching_flask(app) as reached:
        again = signed_in.get("/notifications/count", headers={**HTMX, "If-None-Match": tag})

    assert (again.status_code, reached) == (304, [])
    assert cache_stats()["bell"]["not_modified"] == 1


def test_a_message_to_show_once_is_shown_by_flask(app, signed_in):
    _visit_twice(signed_in, "/tasks")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page_text(signed_in.get("/tasks"))).group(1)
    signed_in.post("/tasks", data={"title": "Water the plants", "csrf_token": token})

    with paths_reaching_flask(app) as reached:
        page = page_text(signed_in.get("/tasks"))

    assert reached == ["/tasks"]
    assert "Added “Water the plants”." in page


def test_a_browser_with_a_new_fingerprint_is_seen_by_flask_once(app, signed_in):
    """Flask-Login's session protection marks the session not fresh when the browser's address or
    User-Agent changes: Flask writes that into the cookie, after which hits come back."""
    _visit_twice(signed_in, "/tasks")
    other_agent = {"User-Agent": "Another browser/1.0"}

    with paths_reaching_flask(app) as reached:
        first = signed_in.get("/tasks", headers=other_agent)
        second = signed_in.get("/tasks", headers=other_agent)

    assert reached == ["/tasks"]
    assert "Set-Cookie" in first.headers
    assert second.status_code == 200
