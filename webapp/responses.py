"""Responses: one view answers a full page or, for htmx, just the fragment it asked for."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Response, current_app, make_response, redirect, render_template, request, url_for
from werkzeug.urls import iri_to_uri

log = logging.getLogger(__name__)


def wants_fragment() -> bool:
    return fragment_requested(request.headers)


def fragment_requested(headers) -> bool:
    """An htmx request that swaps part of a page (not a boosted link, not a history restore)."""
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(page: str, fragment: str | None = None, *, status: int = 200, **context) -> Response:
    """Render `fragment` for an htmx request, `page` (which includes the fragment) otherwise."""
    template = fragment if fragment and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def add_triggers(response: Response, *names: str, **details: object) -> Response:
    """Events htmx fires on the page when the answer arrives (the HX-Trigger header), added to any
    already named: `names` without a detail, `details` with one (`toast="Saved “Rent”."` shows that
    line). Plain names stay a comma-separated list; with a detail the header is JSON, ASCII-escaped
    (a header carries Latin-1 only, and a title may hold anything)."""
    events: dict[str, object] = {}
    already = response.headers.get("HX-Trigger", "").strip()
    if already.startswith("{"):
        events.update(json.loads(already))
    else:
        events.update(dict.fromkeys(part.strip() for part in already.split(",") if part.strip()))
    events.update(dict.fromkeys(names))
    events.update(details)
    if not events:
        return response
    if any(value is not None for value in events.values()):
        response.headers["HX-Trigger"] = json.dumps(events)
    else:
        response.headers["HX-Trigger"] = ", ".join(events)
    return response


def after_response(response: Response, work: Callable[[], None]) -> Response:
    """Run `work` (in an app context) once the response has gone to the client, so the answer
    neither waits for it nor shows by its timing what the work found. A failure is logged."""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:
                log.exception("work after the response failed")

    response.call_on_close(run)
    return response


def see_other(location: str) -> Response:
    """Go to another page after a POST: 303 for a plain form, a full page load for htmx. The
    location is percent-encoded, as `redirect` does for Location: a header may carry neither
    control characters nor any beyond Latin-1 (a `next` of "/" and two DIVISION SLASHes made
    gunicorn answer 500)."""
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = iri_to_uri(location)
        return response
    return redirect(location, code=303)


def is_safe_path(target: str | None) -> bool:
    """A path on this site, safe to redirect to: no scheme, host, protocol-relative or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ord(char) < 32 or char == "\\" for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_back(default: str | None = None) -> str:
    """Where a plain POST returns to: the `next` field when it is a path on this site."""
    target = request.form.get("next") or request.args.get("next")
    return target if is_safe_path(target) else default or url_for("tasks.index")
