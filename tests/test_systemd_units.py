"""The systemd units in deploy/systemd/ as shipped: `systemd-analyze verify` has nothing to say
about them, every service restarts on failure as the app's user with its environment file, and
the command lines they run (web, worker, scheduler) start the app until /readyz answers 200."""

from __future__ import annotations

import contextlib
import os
import runpy
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import redis

from bench.servers import wait_for
from bench.smtp_sink import free_port
from tests.conftest import ROOT, require

UNITS = ROOT / "deploy" / "systemd"
COMMON = UNITS / "tasklane-.service.d" / "common.conf"
INSTALLED_AT = "/srv/tasklane"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# The units tasklane.target starts, as systemd names them (instances of the templates).
STARTED = ("tasklane-web@8000.service", "tasklane-worker@1.service", "tasklane-scheduler.service")


def settings(path: Path, instance: str = "") -> dict[str, list[str]]:
    """Each setting a unit file (or drop-in) gives, in order, with %i filled in."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key, []).append(value.replace("%i", instance))
    return found


def service(unit: str) -> dict[str, list[str]]:
    """What a service runs with: its own file, then the drop-in every tasklane-* unit gets."""
    name, _, instance = unit.removesuffix(".service").partition("@")
    own = settings(UNITS / (f"{name}@.service" if instance else unit), instance)
    for key, values in settings(COMMON).items():
        own.setdefault(key, []).extend(values)
    return own


def test_systemd_analyze_verify_has_nothing_to_say(tmp_path):
    require(SYSTEMD_ANALYZE is not None, "systemd-analyze is not installed (apt-get install systemd)")
    installed = (
        tmp_path / "units"
    )  # as if this checkout were at /srv/tasklane: verify runs its commands' paths
    shutil.copytree(UNITS, installed)
    for path in installed.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace(INSTALLED_AT, str(ROOT)))

    names = [*STARTED, "tasklane.target"]
    result = subprocess.run(
        [SYSTEMD_ANALYZE, "verify", "--man=no", *(str(installed / name) for name in names)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_target_starts_web_instances_workers_and_the_scheduler():
    wanted = " ".join(settings(UNITS / "tasklane.target")["Wants"]).split()
    assert set(STARTED) <= set(wanted)
    assert "tasklane-web@8001.service" in wanted, "two web instances, as nginx's upstream lists"


@pytest.mark.parametrize("unit", STARTED)
def test_every_service_restarts_on_failure_as_the_apps_user_with_its_environment_file(unit):
    runs_with = service(unit)
    assert runs_with["Restart"] == ["on-failure"]
    assert runs_with["User"] == ["tasklane"]
    assert runs_with["EnvironmentFile"] == ["/etc/tasklane/env"]
    assert runs_with["NoNewPrivileges"] == ["yes"] and runs_with["ProtectSystem"] == ["strict"]
    assert runs_with["PartOf"] == ["tasklane.target"]


def test_the_services_command_lines_start_the_app_until_it_is_ready(migrated_database, redis_url, tmp_path):
    port = str(free_port())
    redis_db_9 = redis_url.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(redis_db_9).flushdb()
    env = {
        **os.environ,
        "TASKLANE_INSTANCE": str(tmp_path),
        "DATABASE_URL": migrated_database,
        "REDIS_URL": redis_db_9,
        "SECRET_KEY": "systemd-" + "k" * 32,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROXY_HOPS": "1",
        "WEB_CONCURRENCY": "2",  # gunicorn.conf.py's 2 * cores + 1 is for a machine of its own
    }
    processes = []
    try:
        for unit in ("tasklane-web@" + port + ".service", *STARTED[1:]):
            runs_with = service(unit)
            unit_env = dict(setting.split("=", 1) for setting in runs_with.get("Environment", []))
            unit_env = {key: value.replace("/run/", f"{tmp_path}/run/") for key, value in unit_env.items()}
            [command] = runs_with["ExecStart"]
            [directory] = runs_with["WorkingDirectory"]
            processes.append(
                subprocess.Popen(
                    shlex.split(command.replace(INSTALLED_AT, str(ROOT))),
                    cwd=directory.replace(INSTALLED_AT, str(ROOT)),
                    env={**env, **unit_env},
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"{unit}.log").open("w"),
                    start_new_session=True,
                )
            )
        wait_for(f"http://127.0.0.1:{port}/readyz", processes[0], timeout=90)  # 503 until all are up
        assert all(process.poll() is None for process in processes)
    finally:
        for process in processes:  # as systemd stops them: SIGTERM, then SIGKILL for what is left
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=40)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


def gunicorn_workers() -> int:
    """The worker count gunicorn.conf.py gives each instance the web unit starts."""
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))["workers"]


def test_each_web_instance_runs_two_workers_per_core_plus_one_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    assert gunicorn_workers() == 2 * len(os.sched_getaffinity(0)) + 1
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    assert gunicorn_workers() == 3
