"""Security headers on every answer of the app: Flask's, and the cache hits answered in front of it
(webapp/cache_hits.py), from this one list.

The Content-Security-Policy allows no inline script, no eval and no inline style: htmx is told not
to evaluate attributes or inject its indicator style (base.html's htmx-config), and what pages do
with JavaScript lives in static/app.js. Strict-Transport-Security goes only on answers sent over
TLS (behind the proxy, as ProxyFix reports the scheme). With CDN_URL set, scripts, styles and
images may also come from the CDN's origin (webapp/assets).

The headers are the app's, made once when the factory binds this module and kept on the app:
the cache hits answered in front of Flask, which have no app context, pass the app.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request


def content_security_policy(cdn_url: str | None = None) -> str:
    assets = f"'self' {_origin(cdn_url)}" if cdn_url else "'self'"
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {assets}",
            f"style-src {assets}",
            f"img-src {assets} data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "object-src 'none'",
        )
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


CONTENT_SECURITY_POLICY = content_security_policy()
OTHER_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
OVER_TLS = (("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),)


def security_headers(app: Flask, *, over_tls: bool) -> tuple[tuple[str, str], ...]:
    always = app.extensions["security_headers"]
    return always + OVER_TLS if over_tls else always


def init_app(app: Flask) -> None:
    policy = content_security_policy(app.config["CDN_URL"])
    app.extensions["security_headers"] = (("Content-Security-Policy", policy), *OTHER_HEADERS)
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    for name, value in security_headers(current_app, over_tls=request.is_secure):
        response.headers.setdefault(name, value)
    return response
