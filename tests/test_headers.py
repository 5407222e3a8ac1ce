"""Security headers on every answer: pages, fragments, redirects, errors, and the cache hits
answered in front of Flask; Strict-Transport-Security only over TLS."""

from __future__ import annotations

import pytest

from webapp.headers import CONTENT_SECURITY_POLICY, content_security_policy

from .test_cache import HTMX
from .test_cache_hits import paths_reaching_flask

OVER_TLS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}


def _assert_protected(response, *, over_tls: bool = False, policy: str = CONTENT_SECURITY_POLICY) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == policy
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert ("Strict-Transport-Security" in headers) is over_tls


def test_anonymous_pages_redirects_and_errors_carry_the_headers(client):
    for url, status in (("/login", 200), ("/tasks", 302), ("/no-such-page", 404), ("/static/app.css", 200)):
        response = client.get(url)
        assert response.status_code == status, url
        _assert_protected(response)


def test_signed_in_pages_fragments_and_cache_hits_carry_the_headers(app, client, user):
    client.get("/profile")  # past the welcome message
    for url, headers in (("/tasks", {}), ("/tasks", HTMX), ("/", {}), ("/notifications/count", HTMX)):
        first = client.get(url, headers=headers)
        with paths_reaching_flask(app) as reached:
            hit = client.get(url, headers=headers)
        assert reached == [], f"{url} should be a cache hit"
        _assert_protected(first)
        _assert_protected(hit)


def test_a_304_from_the_cache_carries_the_headers(client, user):
    client.get("/profile")
    tag = client.get("/notifications/count", headers=HTMX).headers["ETag"]

    again = client.get("/notifications/count", headers={**HTMX, "If-None-Match": tag})

    assert again.status_code == 304
    _assert_protected(again)


@pytest.fixture
def behind_tls_proxy(app_config):
    app_config["PROXY_HOPS"] = 1


def test_over_tls_every_answer_asks_browsers_to_stay_on_https(behind_tls_proxy, app, client, user):
    client.get("/profile", headers=OVER_TLS)
    _assert_protected(client.get("/tasks", headers=OVER_TLS), over_tls=True)
    with paths_reaching_flask(app) as reached:
        hit = client.get("/tasks", headers=OVER_TLS)
    assert reached == []
    _assert_protected(hit, over_tls=True)
    _assert_protected(client.get("/login"), over_tls=False)


@pytest.fixture
def cdn(app_config) -> None:
    app_config["CDN_URL"] = "https://cdn.example.test/tasklane"


def test_with_a_cdn_pages_and_cache_hits_allow_scripts_and_styles_from_its_origin(cdn, app, client, user):
    policy = content_security_policy("https://cdn.example.test/tasklane")
    assert "script-src 'self' https://cdn.example.test;" in policy
    assert "style-src 'self' https://cdn.example.test;" in policy
    assert "connect-src 'self';" in policy and "unsafe" not in policy

    client.get("/profile")
    _assert_protected(client.get("/tasks"), policy=policy)
    with paths_reaching_flask(app) as reached:
        hit = client.get("/tasks")
    assert reached == []
    _assert_protected(hit, policy=policy)
    _assert_protected(client.get("/login"), policy=policy)
