"""CLI commands on the app: `flask worker`, `flask scheduler`, `flask users …`, `flask overview count`,
`flask backup`, `flask restore`."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from redis.exceptions import RedisError

from jobs import QUEUES


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker_command(queues: tuple[str, ...], burst: bool) -> None:
    """Run one RQ worker on the named queues (default: all, in priority order)."""
    from jobs.worker import AppWorker

    from .extensions import queues as redis_queues
    from .reminders.compose import compile_templates

    compile_templates()
    while True:
        worker = AppWorker(
            list(queues or QUEUES),
            connection=redis_queues.long_connection(),
            worker_ttl=current_app.config["WORKER_TTL_SECONDS"],
        )
        worker.work(burst=burst, with_scheduler=True)
        if burst or worker.stop_asked:
            return
        # RQ gives up when Redis fails outside its wait for a job (a Sentinel failover, a
        # restart): a new worker, on new connections, takes over once Redis answers again.
        click.echo("the worker lost Redis: starting a new one", err=True)
        _wait_for_redis(redis_queues.long_connection())


def _wait_for_redis(connection, pause: float = 1.0) -> None:
    while True:
        try:
            connection.ping()
            return
        except RedisError:
            time.sleep(pause)


@click.command("scheduler")
@click.option("--interval", default=30, show_default=True, help="Seconds between polls.")
@click.option("--burst", is_flag=True, help="Enqueue what is due once, then stop.")
def scheduler_command(interval: int, burst: bool) -> None:
    """Run rq-scheduler with Tasklane's periodic jobs registered (safe to start twice)."""
    from jobs.schedule import AppScheduler, register_periodic_jobs

    from .extensions import queues as redis_queues

    scheduler = AppScheduler(connection=redis_queues.long_connection(), interval=interval)
    register_periodic_jobs(scheduler)
    scheduler.run(burst=burst)


def register(app: Flask) -> None:
    from .admin.commands import overview_cli, users_cli
    from .backups.commands import backup_command, restore_command

    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    app.cli.add_command(worker_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(users_cli)
    app.cli.add_command(overview_cli)
