"""Background jobs: the periodic schedule and housekeeping, run by a real RQ worker."""

from __future__ import annotations

from datetime import timedelta

from rq_scheduler import Scheduler
from sqlalchemy import func, select

from jobs.schedule import PERIODIC_JOBS, register_periodic_jobs
from webapp.extensions import db, queues
from webapp.models import EmailConfirmation, PasswordResetToken, Task, UserSession
from webapp.projects.services import ensure_inbox
from webapp.timezones import now_utc


def test_starting_the_scheduler_twice_schedules_each_periodic_job_once(app):
    for _ in range(2):
        register_periodic_jobs(Scheduler(connection=queues.connection))
    scheduled = [job.id for job in Scheduler(connection=queues.connection).get_jobs()]
    assert sorted(scheduled) == sorted(f"periodic-{func.__name__}" for _, func, _ in PERIODIC_JOBS)


def test_housekeeping_forgets_expired_sessions_and_long_deleted_tasks_only(app, user, run_jobs):
    now = now_utc()
    inbox = ensure_inbox(user)
    db.session.add_all(
        [
            UserSession(token_hash="e" * 64, user_id=user.id, expires_at=now - timedelta(minutes=1)),
            PasswordResetToken(token_hash="r" * 64, user_id=user.id, expires_at=now - timedelta(minutes=1)),
            EmailConfirmation(
                token_hash="c" * 64, user_id=user.id, email=user.email, expires_at=now - timedelta(days=31)
            ),
            EmailConfirmation(
                token_hash="d" * 64, user_id=user.id, email=user.email, expires_at=now - timedelta(days=1)
            ),
            Task(
                owner_id=user.id,
                project_id=inbox.id,
                title="deleted long ago",
                deleted_at=now - timedelta(days=31),
            ),
            Task(
                owner_id=user.id,
                project_id=inbox.id,
                title="deleted yesterday",
                deleted_at=now - timedelta(days=1),
            ),
            Task(owner_id=user.id, project_id=inbox.id, title="live"),
        ]
    )
    db.session.commit()
    live_sessions = db.session.scalar(select(func.count()).select_from(UserSession)) - 1

    from jobs.maintenance import purge_expired_records

    queues.queue("default").enqueue(purge_expired_records)
    run_jobs()

    db.session.expire_all()
    assert db.session.scalars(select(Task.title).order_by(Task.title)).all() == ["deleted yesterday", "live"]
    assert db.session.scalar(select(func.count()).select_from(UserSession)) == live_sessions
    assert db.session.scalar(select(func.count()).select_from(PasswordResetToken)) == 0
    assert db.session.scalars(select(EmailConfirmation.token_hash)).all() == [
        "d" * 64
    ]  # still offers a new link
