"""Cross-site request protection for the forms anonymous visitors post (log in, sign up, ask for
a password reset), without a token.

A CSRF token lives in the session, so a page carrying one sets a cookie and no shared cache
(nginx) may keep it. These three pages must be cacheable, so their POSTs are checked the way
Go's `http.CrossOriginProtection` does instead: browsers say where a request comes from in
`Sec-Fetch-Site` (all current ones) or at least `Origin` (every browser since 2020); a POST that
another site made the browser send is refused. A request with neither header does not come from
a browser, so it cannot carry a victim's cookies: a forged-request attack needs a browser.
Signed-in pages keep their session-bound tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, request

from .extensions import csrf

SAME_SITE_FETCH = frozenset({"same-origin", "none"})  # "none": typed in, a bookmark


def from_this_site() -> bool:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site in SAME_SITE_FETCH
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin == request.host_url.rstrip("/")
    return True


def anonymous_form(view: Callable) -> Callable:
    """For a view whose form an anonymous visitor posts: no session token, checked by origin."""

    @wraps(view)
    def checked(*args, **kwargs):
        if request.method == "POST" and not from_this_site():
            abort(403)
        return view(*args, **kwargs)

    return csrf.exempt(checked)
