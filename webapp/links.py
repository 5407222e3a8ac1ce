"""Links to the app's pages, built by url_for's rules on PUBLIC_URL: the same in a request, a job
or a mail, so no path is ever spelled by hand."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter


def _adapter() -> MapAdapter:
    """One URL adapter per PUBLIC_URL, kept on the app (binding one per link cost a mail batch)."""
    app = current_app._get_current_object()
    public_url = app.config["PUBLIC_URL"]
    adapters = app.extensions.setdefault("public_url_adapters", {})
    if public_url not in adapters:
        parts = urlsplit(public_url)
        adapters[public_url] = app.url_map.bind(
            parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "http"
        )
    return adapters[public_url]


def absolute_url(endpoint: str, **values) -> str:
    """'https://tasks.example.com/tasks/42' for absolute_url("tasks.show", task_id=42)."""
    return _adapter().build(endpoint, values, force_external=True)


def site_path(endpoint: str, **values) -> str:
    """'/tasks/42': a link within the site, for what is stored and shown inside the app."""
    return _adapter().build(endpoint, values)
