"""Helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import http.client
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import brotli
import requests
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import column, func, select, table, update
from werkzeug.serving import make_server

from tests.conftest import PASSWORD
from webapp import create_app
from webapp.auth.services import confirm_address, create_account
from webapp.extensions import db
from webapp.mail import message_id_for
from webapp.models import Project, Tag, Task, User
from webapp.projects.services import ensure_inbox
from webapp.reminders.models import Delivery, DeliveryState, Reminder
from webapp.tasks.services import create_task
from webapp.timezones import now_utc

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)  # a Tuesday, before 09:00 in London: no scheduled mail

WAIT = 120  # only bounds a hang: a wait ends on what it waits for

RESET_SENT = "If an account exists for that address, we have sent a link"


def copy_of_browser(app, client):
    """Another browser holding the same cookies (a copied or replayed session)."""
    copy = app.test_client()
    for cookie in client._cookies.values():
        copy.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
    return copy


@contextmanager
def serving(app) -> Iterator[str]:
    """The app on a real threaded HTTP server on loopback."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def page_text(response) -> str:
    return response.get_data(as_text=True)


def visible_text(response) -> str:
    """The words a reader sees: tags dropped, entities decoded, white space run together."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page_text(response))).split())


def page_without_tokens(response) -> str:
    """The page as a user sees it: CSRF tokens carry a timestamp, so two requests differ there."""
    return re.sub(r"(X-CSRFToken\": \"|name=\"csrf_token\" value=\")[^\"]+", r"\1…", page_text(response))


def outbox_files(app) -> list[Path]:
    """The mails the app wrote to its development outbox, oldest first."""
    outbox = Path(app.config["OUTBOX_DIR"])
    return sorted(outbox.glob("*.eml")) if outbox.exists() else []


def reset_link(app) -> str:
    """The path of the reset link in the one mail of the outbox."""
    files = outbox_files(app)
    assert len(files) == 1
    match = re.search(r"http://localhost(/reset/[\w-]+)", files[0].read_text())
    assert match, files[0].read_text()
    return match.group(1)


def ask_for_reset(client, email: str):
    """Submit the reset form and let the response close, as a browser's would: that is when the
    app asks a worker to hand the mail out."""
    with client.post("/reset", data={"email": email}) as response:
        return response


# --- reminders and mail ---------------------------------------------------------------------


def make_user(
    email: str = "ada@example.com", timezone: str = "Europe/London", *, confirmed=True, **preferences
):
    """A user made straight in the database, their address confirmed unless asked otherwise."""
    user = create_account(email, PASSWORD, email.split("@")[0].capitalize(), timezone)
    if confirmed:
        confirm_address(user)
    for name, value in preferences.items():
        setattr(user, name, value)
    db.session.commit()
    return user


def make_reminders(user, count: int, at: datetime) -> list[Reminder]:
    reminders = []
    for n in range(count):
        task = create_task(user, f"Task number {n}")
        reminders.append(Reminder(task_id=task.id, owner_id=user.id, remind_at=at))
    db.session.add_all(reminders)
    db.session.commit()
    return reminders


def reminder_ids(reminders: list[Reminder]) -> set[str]:
    return {message_id_for(f"reminder:{reminder.id}") for reminder in reminders}


def count(model, *conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*conditions))


def assert_received_exactly(sink, expected: set[str]) -> None:
    assert not sink.duplicates(), f"sent twice: {sink.duplicates()}"
    missing, extra = expected - set(sink.message_ids), set(sink.message_ids) - expected
    assert not missing and not extra, f"missing {len(missing)}, unexpected {len(extra)}"


def let_the_leases_run_out() -> None:
    """The controllable clock for leases: leases on pending deliveries end now."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.state == DeliveryState.PENDING, Delivery.lease_until.is_not(None))
        .values(lease_until=now_utc() - timedelta(seconds=1), not_before=now_utc() - timedelta(seconds=1))
    )
    db.session.commit()


# --- tasks -----------------------------------------------------------------------------------


def add_task(user: User, title: str, *, project: Project | None = None, tags=(), **fields) -> Task:
    """A task saved straight to the database, for setting up lists (times are UTC)."""
    fields.setdefault("notes", "")
    task = Task(owner_id=user.id, project=project or ensure_inbox(user), title=title, **fields)
    for name in tags:
        tag = db.session.scalar(db.select(Tag).filter_by(owner_id=user.id, name=name))
        task.tags.append(tag or Tag(owner_id=user.id, name=name))
    db.session.add(task)
    db.session.commit()
    return task


def titles(response) -> list[str]:
    """Task titles in the order the page shows them (a row's title is the link with its id)."""
    row_title = r'<a id="[\w-]*t\d+" href="/tasks/\d+(?:\?next=[^"]*)?">([^<]*)</a>'
    return re.findall(row_title, response.get_data(as_text=True))


# --- responses -------------------------------------------------------------------------------

# What a WSGI server can put in a header (RFC 9110's field-value, as gunicorn checks it): any other
# character makes gunicorn answer 500 instead of the response.
SENDABLE_HEADER_VALUE = re.compile(r"[ \t\x21-\x7e\x80-\xff]*")


def assert_sendable(response) -> None:
    """Every header of the response can go out through gunicorn (the test client sends anything)."""
    for name, value in response.headers.items():
        assert SENDABLE_HEADER_VALUE.fullmatch(value), f"{name}: {value!r} cannot be sent"


# --- rate limits and client addresses --------------------------------------------------------

MOST_ATTEMPTS = 100


@contextmanager
def browser_logged_in(base_url: str, email: str) -> Iterator[requests.Session]:
    """A browser (its cookies) that logged in as `email` (with PASSWORD) on the app at `base_url`."""
    with requests.Session() as browser:
        login = {"email": email, "password": PASSWORD}
        response = browser.post(base_url + "/login", data=login, allow_redirects=False, timeout=30)
        assert response.status_code == 303, response.text
        yield browser


def login_from(
    base_url: str,
    address: str,
    email: str,
    password: str,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
) -> int:
    """POST the login form over a real TCP connection from `address` (any 127.x.y.z), over TLS
    trusting `context` for an https `base_url`; the status."""
    url = urlsplit(base_url)
    connection = (
        http.client.HTTPSConnection(
            url.hostname, url.port, timeout=30, source_address=(address, 0), context=context
        )
        if url.scheme == "https"
        else http.client.HTTPConnection(url.hostname, url.port, timeout=30, source_address=(address, 0))
    )
    try:
        body = urlencode({"email": email, "password": password})
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        connection.request("POST", "/login", body, {**form, **(headers or {})})
        return connection.getresponse().status
    finally:
        connection.close()


def wrong_password(attempt: int) -> dict[str, str]:
    """A login form for the `attempt`th address, none with an account: no per-account limit counts."""
    return {"email": f"nobody{attempt}@example.com", "password": "not the password at all"}


def failed_logins_until_refused(send: Callable[[int], int]) -> int | None:
    """Call `send(attempt)` (a failed login; it returns the status) until one is refused (429):
    how many that took, or None when none of MOST_ATTEMPTS was."""
    for attempt in range(1, MOST_ATTEMPTS + 1):
        if send(attempt) == 429:
            return attempt
    return None


# --- static files ----------------------------------------------------------------------------


def sri_hash(content: bytes) -> str:
    """The Subresource Integrity value a browser checks `content` against (SHA-384)."""
    return "sha384-" + base64.b64encode(hashlib.sha384(content).digest()).decode()


def decoded(body: bytes, content_encoding: str | None) -> bytes:
    """A body as a browser reads it once it has undone its Content-Encoding."""
    decoders = {None: bytes, "gzip": gzip.decompress, "br": brotli.decompress}
    return decoders[content_encoding](body)


# --- databases of a test's own ----------------------------------------------------------------


@contextmanager
def migrated_app(config: dict) -> Iterator[Flask]:
    """The app on a database of the test's own (in `config`), migrated from empty like every test
    database, inside its app context."""
    app = create_app(config)
    with app.app_context():
        upgrade()
        yield app
        db.session.remove()
        db.engine.dispose()


# --- backups ---------------------------------------------------------------------------------


def make_users_with_everything() -> dict[str, int]:
    """Two users with projects, tagged tasks, reminders to come and one due, whose mail the sweep
    has planned (pending deliveries and notifications): what a backup must bring back."""
    from jobs.reminders import run_sweep

    ada, bob = make_user("ada@example.com"), make_user("bob@example.com", "UTC")
    for user in (ada, bob):
        project = Project(owner_id=user.id, name=f"{user.display_name}'s garden")
        add_task(user, "Water the roses", project=project, tags=("home",), notes="before noon")
        make_reminders(user, 2, NOW + timedelta(days=1))
        make_reminders(user, 1, NOW - timedelta(minutes=1))
    run_sweep(NOW)
    counts = {
        "users": count(User),
        "tasks": count(Task),
        "reminders": count(Reminder),
        "pending deliveries": count(Delivery, Delivery.state == DeliveryState.PENDING),
    }
    assert all(counts.values()), counts
    return counts


def rows_of_every_table(engine) -> dict[str, set[tuple]]:
    """Every row of every table (Alembic's too), to compare a database with its restored copy."""
    tables = [*db.metadata.sorted_tables, table("alembic_version", column("version_num"))]
    with engine.connect() as connection:
        return {t.name: {tuple(row) for row in connection.execute(select(t))} for t in tables}


def backups_in(directory: Path) -> list[str]:
    """The complete backups in a directory (a database copy with its manifest), oldest first."""
    return sorted(path.name.removesuffix(".json") for path in directory.glob("tasklane-*.json"))


def wait_until(condition: Callable[[], object], what: str, poll: Callable[[], bool] | None = None) -> None:
    """Wait for a readiness signal; `poll` says whether what we wait on is still alive."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert poll is None or poll(), f"gave up waiting for {what}"
        assert time.monotonic() < deadline, f"{what}: not within {WAIT} s"
        time.sleep(0.1)


def csrf_token_in(page: str) -> str:
    """The CSRF token of the first form of a page (for a client outside the test client)."""
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
