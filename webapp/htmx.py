"""One view answers a full page or, for htmx, just the fragment it asked for."""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template

from .extensions import htmx


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.boosted


def render(page: str, fragment: str | None = None, *, status: int = 200, **context) -> Response:
    """Render `fragment` for an htmx request, `page` (which includes the fragment) otherwise."""
    template = fragment if fragment and wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def see_other(location: str) -> Response:
    """Redirect after a plain form POST; htmx follows HX-Location without a full reload."""
    if wants_fragment():
        response = make_response("", 204)
        response.headers["HX-Location"] = location
        return response
    return redirect(location, code=303)
