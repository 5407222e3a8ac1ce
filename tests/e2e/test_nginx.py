"""The production nginx config in front of the real app: proxying, static and fingerprinted files,
body limits."""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request

import pytest

from bench.servers import NGINX_MISSING, nginx_installed, running_gunicorns, running_nginx
from tests.conftest import require
from tests.support import decoded, failed_logins_until_refused, login_from, sri_hash, wrong_password
from webapp.assets.manifest import read_manifest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def nginx_workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("nginx")


@pytest.fixture(scope="module")
def nginx_url(live_server, nginx_workdir):
    require(nginx_installed(), NGINX_MISSING)
    with running_nginx(live_server.url.removeprefix("http://"), nginx_workdir) as url:
        yield url


SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options")


def test_pages_are_proxied_to_the_app_with_its_security_headers_once(nginx_url):
    with urllib.request.urlopen(nginx_url + "/login") as response:
        assert response.status == 200
        assert "Log in" in response.read().decode()
        for name in SECURITY_HEADERS:
            assert len(response.headers.get_all(name) or []) == 1, name
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_static_files_are_served_by_nginx_with_a_long_cache_lifetime_and_security_headers(nginx_url):
    with urllib.request.urlopen(nginx_url + "/static/app.css") as response:
        assert response.status == 200
        assert "Cache-Control" in response.headers
        assert "max-age=604800" in response.headers["Cache-Control"]
        assert "--accent" in response.read().decode()
        assert all(name in response.headers for name in SECURITY_HEADERS)


def test_fingerprinted_files_are_kept_a_year_and_sent_compressed_as_built(nginx_url):
    for built in read_manifest().values():
        url = f"{nginx_url}/static/dist/{built.file}"
        for encoding in (None, *built.encodings):
            request = urllib.request.Request(url, headers={"Accept-Encoding": encoding or "identity"})
            with urllib.request.urlopen(request) as response:
                assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
                assert response.headers["Access-Control-Allow-Origin"] == "*"  # for a CDN pulling from here
                assert response.headers["Content-Encoding"] == encoding
                assert "Accept-Encoding" in response.headers["Vary"]
                assert sri_hash(decoded(response.read(), encoding)) == built.integrity
                assert all(name in response.headers for name in SECURITY_HEADERS)


def test_a_fingerprinted_file_not_there_is_a_404_nobody_keeps(nginx_url):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(nginx_url + "/static/dist/app.0000000000000000.css")
    assert error.value.code == 404
    assert "Cache-Control" not in error.value.headers


def test_oversized_bodies_are_refused_before_they_reach_the_app(nginx_url):
    request = urllib.request.Request(nginx_url + "/login", data=b"x" * (200 * 1024), method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 413


def _cache_status(url: str, headers: dict[str, str] | None = None) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as response:
        assert response.status == 200
        return response.headers["X-Cache-Status"]


def test_requests_with_a_session_cookie_never_touch_the_cache(nginx_url):
    signed_in = {"Cookie": "theme=dark; session=anything"}
    assert {_cache_status(nginx_url + "/reset", signed_in) for _ in range(3)} == {"BYPASS"}


def test_anonymous_pages_are_answered_from_nginx_micro_cache(nginx_url):
    statuses = [_cache_status(nginx_url + "/reset") for _ in range(5)]
    assert "HIT" in statuses, statuses


# --- the client's address and host, as production runs it: gunicorn with PROXY_HOPS=1 ------------


@pytest.fixture(scope="module")
def proxied_url(tmp_path_factory, migrated_database, redis_url):
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
        running_nginx(urls["app"].removeprefix("http://"), instance / "nginx") as url,
    ):
        yield url


def test_behind_nginx_a_client_claiming_other_addresses_still_runs_out_of_login_attempts(proxied_url):
    def from_one_machine(attempt: int) -> int:
        claimed = {"X-Forwarded-For": f"203.0.113.{attempt}"}
        return login_from(proxied_url, "127.0.0.2", **wrong_password(attempt), headers=claimed)

    assert failed_logins_until_refused(from_one_machine) is not None
    assert login_from(proxied_url, "127.0.0.3", **wrong_password(1)) == 422, "another machine has its own"


def test_behind_nginx_a_client_cannot_choose_the_host_its_origin_is_checked_against(proxied_url):
    forged = {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}
    assert login_from(proxied_url, "127.0.0.4", **wrong_password(1), headers=forged) == 403


def test_behind_nginx_probes_are_never_answered_from_its_cache(proxied_url):
    statuses = []
    for _ in range(3):
        with urllib.request.urlopen(proxied_url + "/healthz") as response:
            assert response.read() == b"ok\n"
            statuses.append(response.headers["X-Cache-Status"])
    assert "HIT" not in statuses, statuses


def test_behind_nginx_a_request_id_comes_from_nginx_not_from_the_client(proxied_url):
    forged = urllib.request.Request(proxied_url + "/login", headers={"X-Request-ID": "chosen-by-the-client"})
    ids = []
    for _ in range(2):
        with urllib.request.urlopen(forged) as response:
            ids.append(response.headers["X-Request-ID"])
    assert all(re.fullmatch(r"[0-9a-f]{32}", each) for each in ids) and ids[0] != ids[1], ids


MAILED_LINKS = ("/reset/k1LL3rT0k3n", "/email/confirm/k1LL3rT0k3n", "/unsubscribe/k1LL3rT0k3n?list=all")


def test_the_access_log_holds_no_token_of_a_mailed_link(nginx_url, nginx_workdir):
    for path in MAILED_LINKS:
        request = urllib.request.Request(nginx_url + path, headers={"Referer": nginx_url + MAILED_LINKS[0]})
        try:
            urllib.request.urlopen(request).close()
        except urllib.error.HTTPError as refused:  # a made-up token: an invalid link
            refused.close()
    log = (nginx_workdir / "tasklane.access.log").read_text()

    assert "k1LL3rT0k3n" not in log
    for link in ("/reset/<token>", "/email/confirm/<token>", "/unsubscribe/<token>"):
        assert f"GET {link} HTTP" in log
    assert '"http://127.0.0.1' in log and '/reset/<token>"' in log  # the Referer, also without it
