"""The production nginx config in front of the real app: proxying, static and fingerprinted files,
body limits."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request

import pytest

from bench.servers import NGINX_MISSING, LocalNginx, nginx_installed, running_gunicorns, running_nginx
from tests.conftest import require
from tests.support import (
    decoded,
    failed_logins_until_refused,
    login_from,
    sri_hash,
    wait_until,
    wrong_password,
)
from webapp.assets.manifest import read_manifest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nginx(live_server, tmp_path_factory):
    require(nginx_installed(), NGINX_MISSING)
    with running_nginx([live_server.url.removeprefix("http://")], tmp_path_factory.mktemp("nginx")) as nginx:
        yield nginx


SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def test_pages_are_proxied_to_the_app_with_its_security_headers_once(nginx):
    with nginx.open(nginx.url + "/login") as response:
        assert response.status == 200
        assert "Log in" in response.read().decode()
        for name in SECURITY_HEADERS:
            assert len(response.headers.get_all(name) or []) == 1, name
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_static_files_are_served_by_nginx_with_a_long_cache_lifetime_and_security_headers(nginx):
    with nginx.open(nginx.url + "/static/app.css") as response:
        assert response.status == 200
        assert "Cache-Control" in response.headers
        assert "max-age=604800" in response.headers["Cache-Control"]
        assert "--accent" in response.read().decode()
        assert all(name in response.headers for name in SECURITY_HEADERS)


def test_fingerprinted_files_are_kept_a_year_and_sent_compressed_as_built(nginx):
    for built in read_manifest().values():
        url = f"{nginx.url}/static/dist/{built.file}"
        for encoding in (None, *built.encodings):
            request = urllib.request.Request(url, headers={"Accept-Encoding": encoding or "identity"})
            with nginx.open(request) as response:
                assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
                assert response.headers["Access-Control-Allow-Origin"] == "*"  # for a CDN pulling from here
                assert response.headers["Content-Encoding"] == encoding
                assert "Accept-Encoding" in response.headers["Vary"]
                assert sri_hash(decoded(response.read(), encoding)) == built.integrity
                assert all(name in response.headers for name in SECURITY_HEADERS)


def test_a_fingerprinted_file_not_there_is_a_404_nobody_keeps(nginx):
    with pytest.raises(urllib.error.HTTPError) as error:
        nginx.open(nginx.url + "/static/dist/app.0000000000000000.css")
    assert error.value.code == 404
    assert "Cache-Control" not in error.value.headers


def test_oversized_bodies_are_refused_before_they_reach_the_app(nginx):
    request = urllib.request.Request(nginx.url + "/login", data=b"x" * (200 * 1024), method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        nginx.open(request)
    assert error.value.code == 413


def _cache_status(nginx: LocalNginx, path: str, headers: dict[str, str] | None = None) -> str:
    with nginx.open(urllib.request.Request(nginx.url + path, headers=headers or {})) as response:
        assert response.status == 200
        return response.headers["X-Cache-Status"]


def test_requests_with_a_session_cookie_never_touch_the_cache(nginx):
    signed_in = {"Cookie": "theme=dark; session=anything"}
    assert {_cache_status(nginx, "/reset", signed_in) for _ in range(3)} == {"BYPASS"}


def test_anonymous_pages_are_answered_from_nginx_micro_cache(nginx):
    statuses = [_cache_status(nginx, "/reset") for _ in range(5)]
    assert "HIT" in statuses, statuses


# --- the client's address and host, as production runs it: gunicorn with PROXY_HOPS=1 ------------


@pytest.fixture(scope="module")
def proxied(tmp_path_factory, migrated_database, redis_url):
    """nginx in front of gunicorn serving the app with PROXY_HOPS=1 and its rate limits on."""
    require(nginx_installed(), NGINX_MISSING)
    instance = tmp_path_factory.mktemp("behind-nginx")
    env = {
        **os.environ,
        "TASKLANE_INSTANCE": str(instance),
        "DATABASE_URL": migrated_database,
        "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/6",
        "PUBLIC_URL": "http://127.0.0.1",
        "SECRET_KEY": "behind-nginx-" + "k" * 32,
        "PROXY_HOPS": "1",
    }
    with (
        running_gunicorns({"app": ["wsgi:app"]}, env, workers=2) as urls,
        running_nginx([urls["app"].removeprefix("http://")], instance / "nginx") as nginx,
    ):
        yield nginx


def test_behind_nginx_a_client_claiming_other_addresses_still_runs_out_of_login_attempts(proxied):
    def from_one_machine(attempt: int) -> int:
        claimed = {"X-Forwarded-For": f"203.0.113.{attempt}"}
        return login_from(
            proxied.url, "127.0.0.2", **wrong_password(attempt), headers=claimed, context=proxied.tls()
        )

    assert failed_logins_until_refused(from_one_machine) is not None
    assert login_from(proxied.url, "127.0.0.3", **wrong_password(1), context=proxied.tls()) == 422, (
        "another machine has its own"
    )


def test_behind_nginx_a_client_cannot_choose_the_host_its_origin_is_checked_against(proxied):
    forged = {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}
    assert (
        login_from(proxied.url, "127.0.0.4", **wrong_password(1), headers=forged, context=proxied.tls())
        == 403
    )


def test_behind_nginx_probes_are_never_answered_from_its_cache_nor_logged(proxied):
    statuses = []
    for _ in range(3):
        with proxied.open(proxied.url + "/healthz") as response:
            assert response.read() == b"ok\n"
            statuses.append(response.headers.get("X-Cache-Status"))
    assert "HIT" not in statuses, statuses
    assert "/healthz" not in proxied.access_log.read_text()  # several a second from load balancers


def test_behind_nginx_a_request_id_comes_from_nginx_not_from_the_client(proxied):
    forged = urllib.request.Request(proxied.url + "/login", headers={"X-Request-ID": "chosen-by-the-client"})
    ids = []
    for _ in range(2):
        with proxied.open(forged) as response:
            ids.append(response.headers["X-Request-ID"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", each) for each in ids) and ids[0] != ids[1], ids


MAILED_LINKS = ("/reset/k1LL3rT0k3n", "/email/confirm/k1LL3rT0k3n", "/unsubscribe/k1LL3rT0k3n?list=all")


def test_the_access_log_holds_no_token_of_a_mailed_link(nginx):
    for path in MAILED_LINKS:
        request = urllib.request.Request(nginx.url + path, headers={"Referer": nginx.url + MAILED_LINKS[0]})
        try:
            nginx.open(request).close()
        except urllib.error.HTTPError as refused:  # a made-up token: an invalid link
            refused.close()
    # nginx writes a request's log line after sending the answer
    wait_until(lambda: "/unsubscribe/" in nginx.access_log.read_text(), "the last request's log line")
    log = nginx.access_log.read_text()

    assert "k1LL3rT0k3n" not in log
    for link in ("/reset/<token>", "/email/confirm/<token>", "/unsubscribe/<token>"):
        assert f"GET {link} HTTP" in log
    assert '"https://127.0.0.1' in log and '/reset/<token>"' in log  # the Referer, also without it
