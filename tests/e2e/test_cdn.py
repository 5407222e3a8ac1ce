"""Pages loading their static files from a CDN: the build pushed with `flask assets push --target`
into a directory that nginx serves as a second origin on loopback (nginx/tasklane-assets.conf),
and the app, as `make run` runs it, with CDN_URL pointing there."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from bench.servers import NGINX_MISSING, nginx_installed, running_asset_origin
from tests.conftest import require
from webapp.assets.manifest import read_manifest

from .conftest import ROOT, add_task, look, page_opener, running_live_server, sign_up

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def asset_origin(tmp_path_factory) -> str:
    require(nginx_installed(), NGINX_MISSING)
    directory = tmp_path_factory.mktemp("asset-origin")
    push = [sys.executable, "-m", "flask", "--app", "wsgi", "assets", "push", "--target", str(directory)]
    pushed = subprocess.run(push, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert pushed.returncode == 0, pushed.stderr
    ready = "/" + read_manifest()["app.css"].file
    with running_asset_origin(directory, tmp_path_factory.mktemp("asset-nginx"), ready) as url:
        yield url


@pytest.fixture(scope="module")
def cdn_server(asset_origin, tmp_path_factory, redis_url):
    redis_db_7 = redis_url.rsplit("/", 1)[0] + "/7"
    with running_live_server(
        tmp_path_factory.mktemp("cdn-instance"), redis_db_7, CDN_URL=asset_origin
    ) as server:
        yield server


@pytest.fixture
def open_page(browser, cdn_server):
    with page_opener(browser, cdn_server.url) as open_page:
        yield open_page


class Watched:
    """What a page fetched and what it complained about."""

    def __init__(self, page) -> None:
        self.fetched: list[tuple[str, str, int, str | None]] = []  # url, resource type, status, encoding
        self.errors: list[str] = []
        page.on("response", self._note_response)
        page.on("console", self._note_error)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _note_error(self, message) -> None:
        # The browser asks for /favicon.ico on its own; the app has none (a 404).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def _note_response(self, response) -> None:
        encoding = response.headers.get("content-encoding")
        self.fetched.append((response.url, response.request.resource_type, response.status, encoding))

    def assets(self) -> list[tuple[str, str, int, str | None]]:
        return [fetched for fetched in self.fetched if fetched[1] in ("script", "stylesheet")]


def test_pages_load_every_file_from_the_cdn_checked_and_htmx_works(open_page, asset_origin):
    page = open_page()
    watched = Watched(page)

    sign_up(page, "cdn@example.com")
    page.goto("/tasks")
    add_task(page, "Loaded from the CDN")  # htmx adds the row, app.js empties the form

    assets = watched.assets()
    assert {url for url, *_ in assets} >= {
        f"{asset_origin}/{entry.file}" for entry in read_manifest().values()
    }
    assert all(url.startswith(asset_origin + "/") and status == 200 for url, _, status, _ in assets), assets
    assert not [url for url, *_ in watched.fetched if "/static/" in url]
    assert watched.errors == []  # no integrity failure, no refusal by the Content-Security-Policy
    assert page.evaluate("typeof htmx") == "object"
    assert (
        page.evaluate("getComputedStyle(document.documentElement).backgroundColor") == "rgb(246, 247, 249)"
    )  # app.css
    tags = page.locator("link[rel=stylesheet], script[src]")
    for index in range(tags.count()):
        assert tags.nth(index).get_attribute("integrity").startswith("sha384-")
        assert tags.nth(index).get_attribute("crossorigin") == "anonymous"
    look(page, "cdn-tasks")
    print("encodings sent by the asset origin:", sorted({encoding or "none" for *_, encoding in assets}))


def test_a_file_changed_on_the_way_from_the_cdn_is_refused(open_page, asset_origin):
    page = open_page()

    def change(route) -> None:
        original = route.fetch()
        route.fulfill(response=original, body=original.body() + b"\nwindow.changed = true;\n")

    page.route(re.compile(re.escape(asset_origin) + r"/app\.[0-9a-f]+\.js$"), change)
    with page.expect_console_message(lambda message: "integrity" in message.text) as refusal:
        page.goto("/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()

    assert "blocked" in refusal.value.text
    assert page.evaluate("window.changed") is None  # the changed file never ran
