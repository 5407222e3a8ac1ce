"""Security headers on every answer of the app: Flask's, and the cache hits answered in front of it
(webapp/cache_hits.py), from this one list.

The Content-Security-Policy allows no inline script, no eval and no inline style: htmx is told not
to evaluate attributes or inject its indicator style (base.html's htmx-config), and what pages do
with JavaScript lives in static/app.js. Strict-Transport-Security goes only on answers sent over
TLS (behind the proxy, as ProxyFix reports the scheme).
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
ALWAYS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)
OVER_TLS = (("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),)


def security_headers(*, over_tls: bool) -> tuple[tuple[str, str], ...]:
    return ALWAYS + OVER_TLS if over_tls else ALWAYS


def init_app(app: Flask) -> None:
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    for name, value in security_headers(over_tls=request.is_secure):
        response.headers.setdefault(name, value)
    return response
