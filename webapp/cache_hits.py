"""Cache hits answered in front of Flask.

A signed-in GET of a cached view whose session and page are both current in Redis is answered
here, from the one round trip `cache.session_and_page` makes, without a request context, the
user loader or the view. The profile showed that machinery, not Redis, was most of a hit's cost.

The shortcut answers only when its answer is certain to be the one Flask would give, and
otherwise hands the request on, with what it looked up, to be served by Flask's path: no session
cookie, a session that Flask would change (a message to show once, a remember-me cookie to set or
clear, no CSRF secret yet for a page with a form, a new browser fingerprint), a session whose
idle expiry must slide or that changed since it was cached, a page that is stale or not stored,
Redis down or failing. tests/test_cache_hits.py compares its answers with Flask's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from hashlib import sha512
from typing import Any

from flask import Flask
from itsdangerous import BadSignature, URLSafeTimedSerializer
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException
from werkzeug.http import quote_etag
from werkzeug.routing import RequestRedirect
from werkzeug.wrappers import Request

from . import cache, limits
from .auth.services import token_hash
from .auth.sessions import cached_copy_usable
from .headers import security_headers
from .metrics import ENDPOINT_ENVIRON_KEY
from .responses import fragment_requested

# Session entries after which Flask's answer would carry a cookie or a message: Flask answers.
SESSION_CHANGES_AHEAD = ("_flashes", "_remember", "_permanent")
MAX_TOKEN_LENGTH = 128
# Per process: session cookies whose signature holds, and the views of URLs. Neither changes for
# a given cookie or URL; a session's age is checked on each request.
COOKIES_REMEMBERED = 4096
URLS_REMEMBERED = 1024

WsgiAnswer = Iterable[bytes]


class ServeCacheHits:
    """WSGI middleware: `app.wsgi_app = ServeCacheHits(app, app.wsgi_app)`; `.app` is the WSGI
    app it hands requests on to."""

    def __init__(self, flask_app: Flask, wsgi_app: Callable) -> None:
        self.flask_app = flask_app
        self.app = wsgi_app
        self._cookie_name = flask_app.config["SESSION_COOKIE_NAME"]
        self._session_serializer = flask_app.session_interface.get_signing_serializer(flask_app)
        self._session_max_age = flask_app.permanent_session_lifetime.total_seconds()
        self._csrf_field = flask_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
        csrf_secret = flask_app.config.get("WTF_CSRF_SECRET_KEY") or flask_app.secret_key
        self._csrf_serializer = URLSafeTimedSerializer(csrf_secret, salt="wtf-csrf-token")
        self._read_counter = limits.read_counter(flask_app) if limits.limits_enabled(flask_app) else None
        # With limits on, a hit must be counted; where it cannot be (limits in another store),
        # every request goes to Flask.
        self._on = self._session_serializer is not None and (
            self._read_counter is not None or not limits.limits_enabled(flask_app)
        )
        self._signed_session = lru_cache(maxsize=COOKIES_REMEMBERED)(self._verify_cookie)
        self._view_at = lru_cache(maxsize=URLS_REMEMBERED)(self._find_view)

    def __call__(self, environ: dict, start_response: Callable) -> WsgiAnswer:
        if environ["REQUEST_METHOD"] == "GET" and self._on:
            answer = self._cached_answer(Request(environ), start_response)
            if answer is not None:
                return answer
        return self.app(environ, start_response)

    def _cached_answer(self, request: Request, start_response: Callable) -> WsgiAnswer | None:
        session = self._session(request)
        if session is None or not cache.is_usable(self.flask_app):
            return None
        view = self._view_at(request.host, request.root_path, request.path)
        if view is None:
            return None
        endpoint, name, with_etag = view
        hashed = token_hash(session["_user_id"])
        try:
            found = cache.session_and_page(
                self.flask_app,
                hashed,
                name,
                fragment=fragment_requested(request.headers),
                full_path=request.full_path,
                read_counter=self._read_counter,
            )
        except RedisError as error:
            cache.take_down(self.flask_app, error)
            return None
        request.environ[cache.LOOKED_UP_ENVIRON_KEY] = (hashed, found)  # Flask's path uses it, if it serves
        if found is not None and found.reads is not None:
            request.environ[limits.READ_COUNTED_ENVIRON_KEY] = found.reads
            if found.reads.count > found.reads.allowed:
                return None  # Flask answers the limit
        if not self._servable(found, endpoint):
            return None
        if found.page.holds_csrf_token and self._csrf_field not in session:
            return None  # Flask would make the session's CSRF secret first
        request.environ[ENDPOINT_ENVIRON_KEY] = endpoint
        cache_control = cache.REVALIDATE if with_etag else cache.PRIVATE
        headers = [("Cache-Control", cache_control), ("Vary", ", ".join(cache.CACHED_PAGE_VARY))]
        secure = security_headers(self.flask_app, over_tls=request.scheme == "https")
        headers += secure
        if found.reads is not None:
            headers += found.reads.headers
        if with_etag:
            tag = cache.etag_for(found.page_key)
            if request.if_none_match.contains_weak(tag):
                return self._not_modified(name, tag, secure)(request.environ, start_response)
            headers.append(("ETag", quote_etag(tag, weak=True)))
        body = cache.page_body(found.page, lambda: self._csrf_serializer.dumps(session[self._csrf_field]))
        content_type = f"{found.page.mimetype}; charset=utf-8"
        start_response(
            "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers]
        )
        return [body]

    def _session(self, request: Request) -> dict | None:
        """The signed-in session of this request, when Flask would leave it as it is."""
        cookie = request.cookies.get(self._cookie_name)
        signed = self._signed_session(cookie) if cookie else None
        if signed is None or time.time() - signed[1] > self._session_max_age:
            return None
        session = signed[0]
        token = session.get("_user_id")
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        if any(entry in session for entry in SESSION_CHANGES_AHEAD):
            return None
        environ = request.environ
        browser = (environ.get("HTTP_X_FORWARDED_FOR"), request.remote_addr, environ.get("HTTP_USER_AGENT"))
        if session.get("_fresh") is not False and session.get("_id") != _browser_fingerprint(*browser):
            return None  # Flask-Login's session protection would mark the session not fresh
        return session

    def _verify_cookie(self, cookie: str) -> tuple[dict, float] | None:
        """The session in a cookie whose signature holds, and when it was signed. Shared by every
        request with this cookie: never to be changed."""
        try:
            session, signed_at = self._session_serializer.loads(cookie, return_timestamp=True)
        except BadSignature:
            return None
        return session, signed_at.timestamp()

    def _find_view(self, host: str, root_path: str, path: str) -> tuple[str, str, bool] | None:
        """The endpoint, cache name and ETag use of the cached view this URL shows, if it is one."""
        adapter = self.flask_app.url_map.bind(host, script_name=root_path or None)
        try:
            endpoint, _ = adapter.match(path, method="GET")
        except (HTTPException, RequestRedirect):
            return None
        view = self.flask_app.view_functions.get(endpoint)
        name = getattr(view, "cached_view_name", None)
        return (endpoint, name, view.cached_view_etag) if name else None

    def _servable(self, found: cache.SessionAndPage | None, endpoint: str) -> bool:
        return (
            found is not None
            and found.session_current
            and found.page is not None
            and found.page.fresh
            and cached_copy_usable(self.flask_app, found.session["data"], endpoint)
        )

    def _not_modified(self, name: str, tag: str, secure: Iterable[tuple[str, str]]) -> Callable:
        try:
            cache.count_outcome(self.flask_app, name, "not_modified")
        except RedisError as error:
            cache.take_down(self.flask_app, error)
        response = cache.not_modified(tag)
        response.headers.extend(secure)
        return response


@lru_cache(maxsize=COOKIES_REMEMBERED)
def _browser_fingerprint(forwarded_for: str | None, remote_addr: str | None, user_agent: str | None) -> str:
    """What Flask-Login's session protection compares with the session's `_id`, computed as its
    `_create_identifier` does (which needs a request context)."""
    address: Any = forwarded_for if forwarded_for is not None else remote_addr
    if address is not None:
        address = address.encode("utf-8").split(b",")[0].strip()
    agent = user_agent.encode("utf-8") if user_agent is not None else None
    return sha512(f"{address}|{agent}".encode()).hexdigest()
