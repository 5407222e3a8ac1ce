"""The client's address, scheme and host, as far as they can be trusted.

PROXY_HOPS says how many proxies stand in front of the app (1 behind the shipped nginx). Behind
them, ProxyFix takes the address, scheme and host that the nearest PROXY_HOPS proxies set, and
nothing a client wrote into those headers itself. With no proxy, the connection's own address is
the client's and every X-Forwarded-* header is only the client's claim: ProxyFix is not applied.

Either way X-Forwarded-For is then rewritten to that one trusted address, because some code reads
the header itself: Flask-Login's session fingerprint hashes its first entry (and so does the cache
hit's copy of that fingerprint in cache_hits.py), which would otherwise be whatever a client
put first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from werkzeug.middleware.proxy_fix import ProxyFix


class TrustedClientAddress:
    """WSGI middleware: X-Forwarded-For says only the address the app takes as the client's."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        address = environ.get("REMOTE_ADDR")
        if address:
            environ["HTTP_X_FORWARDED_FOR"] = address
        else:
            environ.pop("HTTP_X_FORWARDED_FOR", None)
        return self.app(environ, start_response)


def trust_proxies(wsgi_app: Callable, hops: int) -> Callable:
    """`wsgi_app` seeing the client as the nearest `hops` proxies report it (none: as connected)."""
    trusted = TrustedClientAddress(wsgi_app)
    if not hops:
        return trusted
    return ProxyFix(trusted, x_for=hops, x_proto=hops, x_host=hops)
