"""The admin overview: figures the counting job stored (run by a real worker), figures read from
Redis now, charts an admin and a screen reader can read, and a page that still answers, quickly,
with Redis stopped or hung."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from jobs.schedule import AppScheduler, register_periodic_jobs
from tests.conftest import ROOT, InProcessWorker, redis_pid
from tests.support import add_task, page_text
from webapp import stats
from webapp.admin.charts import bar_chart
from webapp.admin.models import DailyStat, SiteTotal
from webapp.admin.site_stats import COMPLETED, SIGNUPS, count_site_figures
from webapp.extensions import db, queues
from webapp.models import Status, User
from webapp.timezones import now_utc

HTMX = {"HX-Request": "true"}
ANSWER_WITHIN = 5  # seconds: a hung Redis must not hold the page up


def _count_on_a_worker(run_worker_process, now: datetime | None = None) -> None:
    """What the scheduler does every few minutes: the counting job, run by a real worker process."""
    queues.queue("default").enqueue(
        "jobs.site_stats.count_overview_figures", now.isoformat() if now else None
    )
    run_worker_process("default")


def _stat(page: str, label: str) -> str:
    """The number a stat tile shows above `label`."""
    number = r'<span class="stat-number">((?:(?!stat-number).)*?)</span>'
    found = re.search(rf'{number} <span class="stat-label">{re.escape(label)}</span>', page)
    assert found, f"no tile “{label}”"
    return re.sub(r"<[^>]+>", "", found.group(1))


def _users_made_on(day: date, count: int) -> None:
    db.session.execute(
        insert(User),
        [
            {
                "email": f"{day.isoformat()}-{n}@example.com",
                "password_hash": "x",
                "display_name": "Someone",
                "created_at": datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=n),
            }
            for n in range(count)
        ],
    )
    db.session.commit()


# --- the landing page -------------------------------------------------------------------------


def test_the_overview_is_the_admin_landing_page(admin_client, admin):
    page = page_text(admin_client.get("/admin/"))
    assert "<h1>Overview</h1>" in page
    nav = re.search(r'<nav class="admin-nav".*?</nav>', page, re.DOTALL).group(0)
    assert 'href="/admin/" aria-current="page">Overview' in nav
    for link in ("/admin/users", "/admin/jobs/failed", "/admin/mail/failed", "/admin/audit", "/admin/rq/"):
        assert f'href="{link}"' in nav


def test_before_the_first_count_the_page_says_when_counts_come(admin_client, admin):
    page = page_text(admin_client.get("/admin/"))
    assert "counted every 5 minutes: not yet since the scheduler started" in page
    assert page.count("Not counted yet.") == 2  # the sign-ups and completions charts


def test_the_counting_job_on_a_worker_fills_the_users_and_tasks_figures(
    admin_client, admin, user, run_worker_process
):
    add_task(user, "Water the plants")
    add_task(user, "Buy milk", status=Status.IN_PROGRESS)
    add_task(user, "Call mum", status=Status.DONE, completed_at=now_utc())
    add_task(user, "In the bin", deleted_at=now_utc())

    _count_on_a_worker(run_worker_process)
    page = page_text(admin_client.get("/admin/"))

    assert _stat(page, "Accounts") == "2"  # Ada and Grace
    assert _stat(page, "To do") == "1", "the task in the bin is not counted"
    assert _stat(page, "In progress") == "1"
    assert _stat(page, "Done") == "1"
    assert _stat(page, "Completed in 30 days") == "1"
    assert _stat(page, "Sign-ups in 30 days") == "2"
    counted_at = db.session.scalar(select(func.min(SiteTotal.counted_at)))
    assert f'as counted at <time datetime="{counted_at.isoformat()}">{counted_at:%H:%M}</time>' in page


def test_the_figures_are_what_was_counted_until_the_next_count(admin_client, admin, user, run_worker_process):
    _count_on_a_worker(run_worker_process)
    add_task(user, "Added after the count")
    assert _stat(page_text(admin_client.get("/admin/")), "To do") == "0"
    _count_on_a_worker(run_worker_process)
    assert _stat(page_text(admin_client.get("/admin/")), "To do") == "1"


def test_sign_ups_and_completions_are_counted_per_utc_day_for_30_days(app, user):
    now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    _users_made_on(date(2026, 11, 30), 3)
    _users_made_on(date(2026, 11, 1), 2)  # the 30th day back: the chart's first
    _users_made_on(date(2026, 10, 31), 4)  # the 31st: not on the chart
    done = {"status": Status.DONE}
    add_task(user, "Just before midnight", completed_at=datetime(2026, 11, 28, 23, 59, tzinfo=UTC), **done)
    add_task(user, "Just after midnight", completed_at=datetime(2026, 11, 29, 0, 0, tzinfo=UTC), **done)
    add_task(
        user, "Done, then binned", completed_at=datetime(2026, 11, 29, 8, tzinfo=UTC), deleted_at=now, **done
    )
    add_task(user, "Still to do")

    counted = count_site_figures(now)

    stored = {(row.metric, row.day): row.value for row in db.session.scalars(select(DailyStat))}
    assert len(stored) == 2 * 30, "every day of the chart, zeros too"
    assert stored[(SIGNUPS, date(2026, 11, 30))] == 3
    assert stored[(SIGNUPS, date(2026, 11, 1))] == 2
    assert (SIGNUPS, date(2026, 10, 31)) not in stored
    assert stored[(COMPLETED, date(2026, 11, 28))] == 1
    assert stored[(COMPLETED, date(2026, 11, 29))] == 2, "a completed task in the bin still was completed"
    assert counted["tasks_done"] == 2 and counted["tasks_todo"] == 1, "the bin is not counted by status"


def test_counting_twice_writes_the_same_rows(app, user):
    now = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    add_task(user, "Done", status=Status.DONE, completed_at=now - timedelta(hours=1))
    first = count_site_figures(now)
    rows = db.session.execute(select(DailyStat.metric, DailyStat.day, DailyStat.value)).all()
    assert count_site_figures(now) == first
    assert db.session.execute(select(DailyStat.metric, DailyStat.day, DailyStat.value)).all() == rows


def test_counts_older_than_three_runs_say_the_scheduler_may_be_down(admin_client, admin):
    count_site_figures(now_utc() - timedelta(minutes=16))
    page = page_text(admin_client.get("/admin/"))
    assert "The counts are more than 15 minutes old: is the scheduler running" in page
    count_site_figures(now_utc())
    assert "more than 15 minutes old" not in page_text(admin_client.get("/admin/"))


def test_an_operator_can_count_now_from_the_command_line(app, user):
    add_task(user, "Water the plants")
    result = app.test_cli_runner().invoke(args=["overview", "count"])
    assert result.exit_code == 0, result.output
    assert "users\t1\n" in result.output and "tasks_todo\t1\n" in result.output
    assert db.session.get(SiteTotal, "tasks_todo").value == 1


def test_the_counting_job_is_scheduled_every_five_minutes(app):
    scheduler = AppScheduler(connection=queues.connection)
    register_periodic_jobs(scheduler)
    jobs = {job.func_name: job.meta["cron_string"] for job in scheduler.get_jobs()}
    assert jobs["jobs.site_stats.count_overview_figures"] == "*/5 * * * *"


# --- what Redis knows ---------------------------------------------------------------------------


def test_active_users_are_about_so_many_over_24_hours_and_7_days(admin_client, admin):
    today = now_utc().date()
    pipeline = queues.connection.pipeline()
    stats.count_active(pipeline, 1, today)
    stats.count_active(pipeline, 2, today - timedelta(days=1))  # yesterday: within 24 h
    stats.count_active(pipeline, 3, today - timedelta(days=6))  # within 7 days
    stats.count_active(pipeline, 4, today - timedelta(days=7))  # not
    stats.count_active(pipeline, 1, today - timedelta(days=3))  # the same user again
    pipeline.execute()

    page = page_text(admin_client.get("/admin/"))
    assert _stat(page, "Active in 24 hours") == "about 2"
    assert _stat(page, "Active in 7 days") == "about 3"


def test_rate_limit_refusals_are_counted_in_all_and_per_day(admin_client, admin):
    for _ in range(3):
        stats.count_rate_limit_refusal(queues.connection)
    assert stats.rate_limit_refusals(queues.connection) == 3
    assert stats.rate_limit_refusals_by_day(queues.connection, [now_utc().date()]) == {now_utc().date(): 3}

    page = page_text(admin_client.get("/admin/"))
    assert _stat(page, "Rate-limit refusals (total)") == "3"
    assert "3 refusals from" in page  # the chart's description


def test_queues_workers_and_scheduled_jobs_are_shown(admin_client, admin, worker_env):
    queues.queue("mail-bulk").enqueue("jobs.reminders.hand_out_mail")
    worker = InProcessWorker(["default"], connection=queues.connection, name="overview-test-worker")
    worker.register_birth()
    worker.heartbeat()
    scheduler = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--burst"]
    subprocess.run(scheduler, env=worker_env, cwd=ROOT, check=True, capture_output=True, timeout=60)
    try:
        page = page_text(admin_client.get("/admin/"))
    finally:
        worker.register_death()

    assert re.search(r"<td>mail-bulk</td><td class=\"number\">1</td>", page)
    assert "<code>overview-test-worker</code>" in page
    assert _stat(page, "Worker alive") == "1"
    assert "Last heartbeat" in page
    for function in ("run_sweep", "plan_overdue_mails", "purge_expired_records", "count_overview_figures"):
        assert f"<code>{function}</code>" in page
    assert "Cron <code>*/5 * * * *</code>" in page
    for name in ("Database", "Redis", "Scheduler", "Worker"):
        assert f'<li class="is-ok"><span aria-hidden="true">✓</span> {name}</li>' in page


def test_without_a_worker_the_overview_says_nothing_is_sent(admin_client, admin):
    page = page_text(admin_client.get("/admin/"))
    assert _stat(page, "Workers alive") == "0"
    assert "No worker is alive: nothing is sent or counted." in page
    assert "✕</span> Worker: no worker alive: is `flask worker` running?</li>" in page
    assert "✕</span> Scheduler: not ticking: is `flask scheduler` running?</li>" in page


def test_cache_hit_ratios_per_page(app, client, user, admin_client, admin):
    for _ in range(4):
        assert client.get("/tasks").status_code == 200
    page = page_text(admin_client.get("/admin/"))
    row = re.search(
        r"<tr><td>Task list</td><td class=\"number\">(\d+)%</td><td class=\"number\">(\d+)</td>", page
    )
    assert row, page
    assert int(row.group(2)) >= 4 and int(row.group(1)) > 0


# --- Redis down -------------------------------------------------------------------------------------


def _answers(client, url: str):
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("response", client.get(url)), daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(ANSWER_WITHIN)
    assert "response" in result, f"{url} did not answer within {ANSWER_WITHIN} s"
    return result["response"], time.monotonic() - started


@pytest.fixture
def counted(own_redis, app, admin_client, admin, user):
    add_task(user, "Water the plants")
    count_site_figures(now_utc())
    assert admin_client.get("/admin/").status_code == 200  # the session is cached in Redis
    return own_redis


def _shows_the_database_figures_and_says_redis_does_not_answer(response) -> None:
    assert response.status_code == 200
    page = page_text(response)
    assert "Redis does not answer: active users, rate-limit refusals" in page
    assert _stat(page, "Accounts") == "2" and _stat(page, "To do") == "1"
    assert _stat(page, "Active in 24 hours") == "Unavailable"
    assert _stat(page, "Failed jobs") == "Unavailable"
    assert page.count("Unavailable: Redis does not answer.") == 4  # two charts, jobs, cache
    assert 'role="img"' in page, "the charts counted in the database are still drawn"
    assert "✕</span> Redis: does not answer</li>" in page


def test_with_redis_stopped_the_overview_answers_with_what_the_database_knows(counted, admin_client):
    counted["server"].stop()
    response, took = _answers(admin_client, "/admin/")
    _shows_the_database_figures_and_says_redis_does_not_answer(response)
    assert took < 1.5


def test_with_redis_hung_the_overview_answers_within_a_few_timeouts(counted, admin_client):
    os.kill(redis_pid(counted), signal.SIGSTOP)
    response, took = _answers(admin_client, "/admin/")
    _shows_the_database_figures_and_says_redis_does_not_answer(response)
    assert took < 3, f"{took:.1f} s"


# --- the charts -------------------------------------------------------------------------------------


def _series(values: list[int]) -> list[tuple[date, int]]:
    first = date(2026, 11, 1)
    return [(first + timedelta(days=n), value) for n, value in enumerate(values)]


def test_a_chart_scales_to_round_grid_lines_above_its_largest_day():
    chart = bar_chart("c", "Sign-ups per day", "sign-ups", _series([0] * 28 + [17, 3]))
    assert [line.value for line in chart.grid] == [20, 15, 10, 5, 0]
    tallest = chart.bars[-2]
    assert tallest.height == pytest.approx(144 * 17 / 20)
    assert tallest.y + tallest.height == pytest.approx(152), "bars stand on the baseline"
    assert chart.bars[-1].today and not tallest.today
    assert chart.description == "20 sign-ups from 1 Nov to 30 Nov; the most, 17, on 29 Nov; 3 today so far."


@pytest.mark.parametrize(
    ("largest", "grid"),
    [
        (0, [1, 0]),
        (1, [1, 0]),
        (3, [3, 2, 1, 0]),
        (4, [4, 3, 2, 1, 0]),
        (7, [8, 6, 4, 2, 0]),
        (1234, [1500, 1000, 500, 0]),
    ],
)
def test_grid_lines_are_at_most_four_round_steps(largest, grid):
    chart = bar_chart("c", "T", "things", _series([largest] + [0] * 29))
    assert [line.value for line in chart.grid] == grid


def test_a_single_one_among_thousands_still_shows_as_a_bar():
    chart = bar_chart("c", "T", "things", _series([5000, 1] + [0] * 28))
    assert chart.bars[1].height == 2 and chart.bars[2].height == 0


def test_bars_fill_the_width_and_day_labels_stay_inside_it():
    chart = bar_chart("c", "T", "things", _series(list(range(30))))
    assert chart.bars[0].x > 0 and chart.bars[-1].x + chart.bars[-1].width < 100
    assert [tick.text for tick in chart.ticks] == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "30 Nov"]
    assert (chart.ticks[0].anchor, chart.ticks[-1].anchor) == ("start", "end")


def test_charts_are_images_with_a_description_and_their_numbers_in_a_table(admin_client, admin):
    _users_made_on(now_utc().date() - timedelta(days=2), 4)
    count_site_figures(now_utc())
    page = page_text(admin_client.get("/admin/"))
    svg = re.search(
        r'<svg class="chart-svg"[^>]*aria-labelledby="chart-signups-title chart-signups-desc">', page
    )
    assert svg, "the chart is an image named by its title and description"
    assert '<title id="chart-signups-title">Sign-ups per day, last 30 days</title>' in page
    assert re.search(r'<desc id="chart-signups-desc">5 sign-ups from .*; the most, 4, on ', page)
    numbers = re.search(r"<summary>The numbers</summary>(.*?)</details>", page, re.DOTALL).group(1)
    assert numbers.count("<tr>") == 31  # a header and 30 days
    assert '(today, so far)</td><td class="number">1</td>' in numbers  # Grace signed up today
    assert "viewBox" not in svg.group(0), "text in the chart keeps the page's size"
