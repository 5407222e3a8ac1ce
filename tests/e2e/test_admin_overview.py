"""The admin overview in a real browser on the real stack, with a month of data in it: figures
counted by the live worker, charts drawn server-side, failed mail retried and a failed job
deleted from their pages; desktop and phone, checked with axe-core and kept as screenshots."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock

import pytest
from playwright.sync_api import expect
from rq.registry import FailedJobRegistry
from sqlalchemy import insert, select

from tests.conftest import PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, account_menu, log_in, look, run_flask
from webapp import create_app, stats
from webapp.admin.models import SiteTotal
from webapp.extensions import db, queues
from webapp.models import Project, Task, User
from webapp.queueing import JsonJob
from webapp.reminders.models import Delivery, DeliveryState
from webapp.timezones import now_utc

pytestmark = pytest.mark.e2e

DOMAIN = "overview.example"
FAILED_MAIL = (
    ("reminder", "550 5.1.1 <nadia@overview.example>: Recipient address rejected: User unknown"),
    ("weekly_digest", "421 4.7.0 Try again later, closing connection"),
    ("overdue", "552 5.2.2 Mailbox full"),
)


def _live_app(live_server):
    """The app as the live server's processes see it: its SQLite file and its Redis."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{live_server.instance / 'tasklane.db'}",
            "REDIS_URL": live_server.env["REDIS_URL"],
            "SECRET_KEY": "e2e-seeding",
        }
    )


def _a_month_of_use(rng: random.Random) -> None:
    """Eighty people who signed up over the last 30 days (more on weekdays, more lately), their
    tasks done over the month, the days each was active, and three mails that failed."""
    now = now_utc()
    today = now.date()
    people = []
    for back in range(29, -1, -1):
        day = today - timedelta(days=back)
        weekday = day.weekday() < 5
        for _ in range(rng.randint(1, 3) + (2 if weekday else 0) + (30 - back) // 12):
            made = datetime.combine(day, clock(), UTC) + timedelta(minutes=rng.randrange(60 * 24))
            people.append(min(made, now - timedelta(minutes=5)))
    ids = []
    for n, made in enumerate(people):
        user = User(
            email=f"person{n}@{DOMAIN}",
            password_hash="x",
            display_name=f"Person {n}",
            timezone="UTC",
            created_at=made,
            email_verified_at=made,
        )
        db.session.add(user)
        db.session.flush()
        inbox = Project(owner_id=user.id, name="Inbox", is_inbox=True, created_at=made)
        db.session.add(inbox)
        db.session.flush()
        rows = []
        for i in range(rng.randint(5, 30)):
            created = made + (now - made) * rng.random()
            done = rng.random() < 0.45
            rows.append(
                {
                    "owner_id": user.id,
                    "project_id": inbox.id,
                    "title": f"Task {i}",
                    "notes": "",
                    "status": "done" if done else rng.choice(("todo", "todo", "in_progress")),
                    "priority": 1,
                    "due_all_day": False,
                    "created_at": created,
                    "updated_at": created,
                    "completed_at": created + (now - created) * rng.random() if done else None,
                }
            )
        db.session.execute(insert(Task.__table__), rows)
        ids.append((user.id, made))
    for kind, error in FAILED_MAIL:
        user_id, _ = rng.choice(ids)
        db.session.add(
            Delivery(
                key=f"e2e:{kind}:{user_id}",
                user_id=user_id,
                kind=kind,
                state=DeliveryState.FAILED,
                attempts=1 if error.startswith("55") else 6,
                last_error=error,
                created_at=now - timedelta(hours=rng.randint(1, 40)),
            )
        )
    db.session.commit()

    pipeline = queues.connection.pipeline()
    for back in range(30):
        day = today - timedelta(days=back)
        for user_id, made in ids:
            if made.date() <= day and rng.random() < 0.55:
                stats.count_active(pipeline, user_id, day)
    pipeline.execute()
    for _ in range(7):  # as the limiter counts what it refused today
        stats.count_rate_limit_refusal(queues.connection)


def _fail_a_job() -> str:
    """A job with an argument it cannot take, for the live worker to fail."""
    job = queues.queue("default").enqueue("jobs.site_stats.count_overview_figures", "yesterday-ish")
    failed = FailedJobRegistry(queue=queues.queue("default"), job_class=JsonJob)
    deadline = time.monotonic() + 30
    while job.id not in failed.get_job_ids():
        assert time.monotonic() < deadline, "the live worker did not fail the job"
        time.sleep(0.2)
    return job.id


def _counted_by_the_worker() -> None:
    """Ask the live worker to count now (the scheduler does every 5 minutes, and may have counted
    before the month was there), and wait until it has."""
    asked_at = now_utc()
    queues.queue("default").enqueue("jobs.site_stats.count_overview_figures")
    deadline = time.monotonic() + 30
    while (db.session.scalar(select(db.func.min(SiteTotal.counted_at))) or asked_at) <= asked_at:
        assert time.monotonic() < deadline, "the live worker did not count the figures"
        time.sleep(0.2)
        db.session.rollback()  # see what the worker committed since


def test_an_admin_reads_a_month_of_the_site_on_the_overview(new_page, live_server):
    created = run_flask(
        live_server, "users", "create-admin", "overview-admin@example.com", "--password", PASSWORD
    )
    assert created.returncode == 0, created.stderr
    app = _live_app(live_server)
    with app.app_context():
        _a_month_of_use(random.Random(30))
        failed_job = _fail_a_job()

        page = new_page(viewport=DESKTOP)
        log_in(page, "overview-admin@example.com")
        page.wait_for_url(re.compile(r"/$"))
        account_menu(page).get_by_role("link", name="Admin", exact=True).click()
        expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
        _counted_by_the_worker()
        page.reload()
        expect(page.get_by_text("Users and tasks as counted at")).to_be_visible()
        accounts = db.session.scalar(select(db.func.count()).select_from(User))

    tiles = page.locator(".stat")
    expect(tiles.filter(has_text="Accounts")).to_contain_text(f"{accounts:,}")
    expect(tiles.filter(has_text="Active in 7 days")).to_contain_text("about")
    expect(tiles.filter(has_text="Failed mail")).to_contain_text("3")
    for name in (
        "Sign-ups per day",
        "Tasks completed per day",
        "Active users per day",
        "Rate-limit refusals per day",
    ):
        expect(page.get_by_role("img", name=re.compile(name))).to_be_visible()
    expect(page.locator(".chart-bar")).to_have_count(4 * 30)
    expect(page.get_by_text("count_overview_figures", exact=True).first).to_be_visible()
    look(page, "admin-overview")

    numbers = page.locator(".chart").first.get_by_text("The numbers")
    numbers.click()
    expect(page.locator(".chart").first.get_by_role("table")).to_be_visible()
    look(page, "admin-overview-numbers")

    page.set_viewport_size(PHONE)
    page.goto("/admin/")
    look(page, "admin-overview-phone")

    page.set_viewport_size(DESKTOP)
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Failed mail").click()
    rows = page.locator("#failed-mail .admin-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_text("Recipient address rejected: User unknown").first).to_be_visible()
    look(page, "admin-failed-mail")
    rows.filter(has_text="Mailbox full").get_by_role("button", name=re.compile("^Discard")).click()
    expect(page.locator("#failed-mail")).to_contain_text("is discarded: it will not be sent.")
    rows.filter(has_text="Try again later").get_by_role("button", name=re.compile("^Retry")).click()
    expect(page.locator("#failed-mail")).to_contain_text("is on its way again.")
    expect(rows).to_have_count(1)
    page.set_viewport_size(PHONE)
    look(page, "admin-failed-mail-phone")

    page.set_viewport_size(DESKTOP)
    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Failed jobs").click()
    job = page.locator("#failed-jobs .admin-row").filter(has_text="yesterday-ish")
    expect(job).to_have_count(1)
    job.get_by_text("The whole error").click()
    expect(job.locator("pre")).to_contain_text("ValueError")
    look(page, "admin-failed-jobs")
    job.get_by_role("button", name=re.compile("^Delete")).click()
    expect(page.locator("#failed-jobs")).to_contain_text(f"The job {failed_job} is deleted.")

    page.get_by_role("navigation", name="Admin").get_by_role("link", name="Audit log").click()
    entries = page.locator(".admin-row")
    expect(entries.nth(0)).to_contain_text("Deleted a failed job")
    expect(entries.nth(1)).to_contain_text("Retried a failed mail")
    expect(entries.nth(2)).to_contain_text("Discarded a failed mail")
