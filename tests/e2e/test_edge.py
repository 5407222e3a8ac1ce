"""The edge as production runs it: the shipped nginx (TLS on a self-signed certificate) in front of
two real gunicorn instances of the app sharing one database and one Redis. What a client sees of
TLS, redirects, compression and the outer limit, and that any instance serves any request of a
signed-in user."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import urllib.request
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
import requests
from playwright.sync_api import expect

from bench.servers import LocalNginx
from tests.e2e.conftest import add_task, log_in, page_opener, running_edge
from tests.support import browser_logged_in, decoded, login_from, make_user, wrong_password

pytestmark = pytest.mark.e2e

READS_PER_HOUR = 40  # each user's (and each anonymous address's) reads, shared by both instances
HSTS = "Strict-Transport-Security"


@pytest.fixture(scope="module")
def edge_redis_url(redis_url) -> str:
    return redis_url.rsplit("/", 1)[0] + "/7"


@pytest.fixture(scope="module")
def edge(tmp_path_factory, migrated_database, edge_redis_url):
    workdir = tmp_path_factory.mktemp("edge")
    settings = {"RATELIMIT_READS": f"{READS_PER_HOUR} per hour"}
    with running_edge(workdir, migrated_database, edge_redis_url, **settings) as servers:
        yield servers


@pytest.fixture
def empty_site(app, edge_redis_url) -> None:
    """No account yet (`app` empties the database) and nothing in the edge's Redis: a new user
    may get the id of an earlier test's, whose reads and cached pages must not count."""
    redis.Redis.from_url(edge_redis_url).flushdb()


@pytest.fixture
def nginx(edge) -> LocalNginx:
    return edge[1]


@pytest.fixture
def instances(edge):
    return edge[0]


@pytest.fixture
def signed_in(empty_site, instances) -> Iterator[requests.Session]:
    """A browser of a new user who logged in on instance "a"."""
    make_user("edge@example.com")
    with browser_logged_in(instances["a"], "edge@example.com") as browser:
        yield browser


def port_of(url: str) -> int:
    return urlsplit(url).port


# --- TLS and HTTP -----------------------------------------------------------------------------


def handshake(nginx: LocalNginx, version: ssl.TLSVersion) -> str:
    """A TLS handshake offering only `version`: the version agreed on."""
    context = ssl.create_default_context(cafile=nginx.certificate)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # so this client can offer the old versions at all
    context.minimum_version = context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port_of(nginx.url)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_1_2_and_1_3_are_accepted(nginx, version):
    assert handshake(nginx, version) == version.name.replace("_", ".")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_1_0_and_1_1_are_refused_by_the_server(nginx, version):
    with pytest.raises(ssl.SSLError) as refused:
        handshake(nginx, version)
    assert "ALERT_PROTOCOL_VERSION" in str(refused.value), "the server's alert, not this client's choice"


def test_plain_http_moves_to_https_keeping_the_path_and_query(nginx):
    response = requests.get(nginx.http_url + "/tasks?status=open", allow_redirects=False, timeout=30)
    assert response.status_code == 301
    assert response.headers["Location"] == nginx.url + "/tasks?status=open"


def test_plain_http_answers_health_probes_of_a_load_balancer(nginx):
    response = requests.get(nginx.http_url + "/healthz", allow_redirects=False, timeout=30)
    assert (response.status_code, response.text) == (200, "ok\n")


@pytest.mark.parametrize("path", ["/login", "/static/app.css", "/healthz", "/no-such-page"])
def test_every_https_answer_carries_exactly_one_hsts_header(nginx, path):
    response = requests.get(nginx.url + path, verify=nginx.certificate, timeout=30)
    assert response.raw.headers.getlist(HSTS) == ["max-age=63072000; includeSubDomains"]


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_pages_are_sent_compressed_as_the_browser_accepts(nginx, encoding):
    request = urllib.request.Request(nginx.url + "/login", headers={"Accept-Encoding": encoding})
    with nginx.open(request) as response:
        body = response.read()
        assert response.headers["Content-Encoding"] == encoding
        assert "Accept-Encoding" in response.headers["Vary"]
    page = decoded(body, encoding)
    assert b"Log in" in page and len(body) < len(page) / 2


# --- the outer limit --------------------------------------------------------------------------


def statuses_from(
    nginx: LocalNginx, address: str, path: str, most: int, stop_at: int | None = None
) -> Counter:
    """GET `path` up to `most` times over one kept TLS connection from `address` (any 127.x.y.z),
    stopping at the first `stop_at` status; how many of each status."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port_of(nginx.url), timeout=30, source_address=(address, 0), context=nginx.tls()
    )
    seen: Counter = Counter()
    try:
        for _ in range(most):
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            seen[response.status] += 1
            if response.status == stop_at:
                break
    finally:
        connection.close()
    return seen


def test_a_flooding_client_is_refused_by_nginx_while_another_client_is_served(nginx):
    flood = statuses_from(nginx, "127.0.0.2", "/login", most=1000, stop_at=429)
    assert flood[429] == 1 and flood[200] >= 100, flood  # the burst first, then refused

    assert statuses_from(nginx, "127.0.0.3", "/login", most=5) == {200: 5}, "another client has its own"


def test_the_machine_itself_is_never_limited_by_nginx(nginx):
    assert statuses_from(nginx, "127.0.0.1", "/login", most=300) == {200: 300}


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_passed_to_the_app_never_limited_nor_cached(nginx, instances, path):
    direct = requests.get(instances["a"] + path, timeout=30)
    seen = statuses_from(nginx, "127.0.0.4", path, most=300)
    assert seen == {direct.status_code: 300}, "as the app answers, and never 429"
    response = requests.get(nginx.url + path, verify=nginx.certificate, timeout=30)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers.get("X-Cache-Status") is None
    if path == "/readyz":
        assert set(response.json()["checks"]) >= {"database", "redis", "worker"}


# --- any instance serves any request ----------------------------------------------------------


def test_requests_are_spread_over_both_instances(nginx, instances, signed_in):
    for _ in range(12):
        response = signed_in.get(nginx.url + "/tasks", verify=nginx.certificate, timeout=30)
        assert response.status_code == 200
    served_by = re.findall(
        r"GET /tasks HTTP/[\d.]+\" 200 .* (127\.0\.0\.1:\d+)$", nginx.access_log.read_text(), re.M
    )
    assert set(served_by) == {instances.address("a"), instances.address("b")}, Counter(served_by)


def test_a_session_made_on_one_instance_is_signed_in_on_the_other(instances, signed_in):
    response = signed_in.get(instances["b"] + "/tasks", allow_redirects=False, timeout=30)
    assert response.status_code == 200
    assert "Log out" in response.text


def test_a_logout_on_one_instance_ends_the_session_on_the_other(instances, signed_in):
    page = signed_in.get(instances["b"] + "/tasks", timeout=30)
    assert signed_in.post(instances["a"] + "/logout", data={"csrf_token": csrf_token(page.text)}).ok
    response = signed_in.get(instances["b"] + "/tasks", allow_redirects=False, timeout=30)
    assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_a_task_added_on_one_instance_shows_at_once_on_the_other(instances, signed_in):
    before = signed_in.get(instances["b"] + "/tasks", timeout=30)  # now in the shared cache
    assert "Water the ferns" not in before.text
    form = {"title": "Water the ferns", "csrf_token": csrf_token(before.text)}
    added = signed_in.post(instances["a"] + "/tasks", data=form, allow_redirects=False, timeout=30)
    assert added.status_code == 303, added.text

    assert "Water the ferns" in signed_in.get(instances["b"] + "/tasks", timeout=30).text


def test_a_users_reads_are_counted_once_over_both_instances(instances, signed_in):
    on_a = [signed_in.get(instances["a"] + "/tasks", timeout=30).status_code for _ in range(25)]
    on_b = [signed_in.get(instances["b"] + "/tasks", timeout=30).status_code for _ in range(16)]
    assert on_a == [200] * 25
    assert on_b == [200] * (READS_PER_HOUR - 25) + [429]


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]* value="([^"]+)"', page)[1]


# --- the site on a port other than 443 --------------------------------------------------------


def test_an_anonymous_form_from_the_site_itself_on_its_port_is_accepted(nginx):
    from_the_site = {"Origin": nginx.url}  # a browser that sends Origin but not Sec-Fetch-Site
    status = login_from(
        nginx.url, "127.0.0.5", **wrong_password(1), headers=from_the_site, context=nginx.tls()
    )
    assert status == 422, "checked and refused as a wrong password, not as a forged request (403)"


def test_a_signed_in_form_over_https_on_its_port_passes_the_csrf_check(nginx, signed_in):
    page = signed_in.get(nginx.url + "/tasks", verify=nginx.certificate, timeout=30)
    form = {"title": "Call the plumber", "csrf_token": csrf_token(page.text)}
    added = signed_in.post(
        nginx.url + "/tasks",
        data=form,
        headers={"Referer": nginx.url + "/tasks"},  # Flask-WTF checks it over HTTPS
        verify=nginx.certificate,
        allow_redirects=False,
        timeout=30,
    )
    assert added.status_code == 303, added.text[:500]
    assert added.headers["Location"] in ("/tasks", nginx.url + "/tasks")


def test_chromium_logs_in_and_adds_a_task_over_https_and_http2(empty_site, browser, nginx):
    make_user("chromium@example.com")
    with page_opener(browser, nginx.url) as open_page:
        page = open_page(ignore_https_errors=True)
        log_in(page, "chromium@example.com")
        page.wait_for_url(re.compile(r"/$"))
        page.goto("/tasks")
        add_task(page, "Book the dentist")
        expect(page.get_by_role("navigation", name="Account")).to_be_visible()  # still signed in
        protocol = page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")
    assert protocol == "h2"
