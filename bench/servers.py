"""Servers on loopback for tests and benchmarks: gunicorn serving an app, and the production nginx
configs run unprivileged: nginx/tasklane.conf in front of it, nginx/tasklane-assets.conf as the
asset origin."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
PRODUCTION_UPSTREAM = "127.0.0.1:8000"
PRODUCTION_ROOT = "/srv/tasklane/"
PRODUCTION_CACHE = "/var/cache/nginx/tasklane"
PRODUCTION_ASSETS = "/srv/tasklane-assets"
PRODUCTION_LOGS = "/var/log/nginx/"
BROTLI_STATIC = "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so"
NGINX_MISSING = "nginx is not installed (apt-get install nginx libnginx-mod-http-brotli-static)"


def nginx_installed() -> bool:
    return Path(NGINX).exists() and Path(BROTLI_STATIC).exists()


def local_config(site: str, port: int, workdir: Path) -> str:
    """A production site (a file under nginx/), listening on 127.0.0.1:`port` and reading this
    checkout, its cache and temporary files under `workdir`, inside a minimal nginx.conf that
    loads the brotli_static module (Debian's nginx.conf loads every installed one)."""
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace(PRODUCTION_ROOT, f"{ROOT}/")
    site = site.replace(PRODUCTION_CACHE, str(workdir / "cache"))
    site = site.replace(PRODUCTION_LOGS, f"{workdir}/")
    # Workers run as this user: a checkout in a private temporary folder is unreadable to `nobody`.
    return f"""
        daemon off;
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes auto;
        pid {workdir}/nginx.pid;
        error_log {workdir}/error.log;
        load_module {BROTLI_STATIC};
        events {{ worker_connections 256; }}
        http {{
            include /etc/nginx/mime.types;
            access_log off;
            client_body_temp_path {workdir};
            proxy_temp_path {workdir};
            {site}
        }}
        """


def wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Until `url` answers with a success; fail early if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:  # refused, reset or timed out while the server starts
            time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} after {timeout} s")


@contextmanager
def running_nginx(app_address: str, workdir: Path) -> Iterator[str]:
    """nginx with the production site in front of `app_address`; yields its base URL."""
    site = (ROOT / "nginx" / "tasklane.conf").read_text().replace(PRODUCTION_UPSTREAM, app_address)
    with _running_site(site, workdir, "/login") as url:
        yield url


@contextmanager
def running_asset_origin(directory: Path, workdir: Path, ready_path: str) -> Iterator[str]:
    """nginx with the asset origin's site (nginx/tasklane-assets.conf) serving `directory`, what
    `flask assets push --target` wrote; yields its base URL once `ready_path` is served."""
    site = (ROOT / "nginx" / "tasklane-assets.conf").read_text().replace(PRODUCTION_ASSETS, str(directory))
    with _running_site(site, workdir, ready_path) as url:
        yield url


@contextmanager
def _running_site(site: str, workdir: Path, ready_path: str) -> Iterator[str]:
    if not nginx_installed():
        raise FileNotFoundError(NGINX_MISSING)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "nginx.conf").write_text(local_config(site, port, workdir))
    process = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf")])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(url + ready_path, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def running_gunicorns(
    apps: dict[str, list[str]], env: dict[str, str], *, workers: int = 4, log: Path | None = None
) -> Iterator[dict[str, str]]:
    """One gunicorn with sync workers for each of `apps` (name: its arguments, ending with the WSGI
    target such as "wsgi:app"), all started at once, each on a free loopback port without an
    access log; yields their base URLs by name once every app answers."""
    output = log.open("ab") if log else subprocess.DEVNULL
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    processes: dict[str, tuple[str, subprocess.Popen]] = {}
    try:
        for name, arguments in apps.items():
            port = free_port()
            command = [
                gunicorn,
                f"--bind=127.0.0.1:{port}",
                f"--workers={workers}",
                "--worker-class=sync",
                *arguments,
            ]
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
            processes[name] = (f"http://127.0.0.1:{port}", process)
        for url, process in processes.values():
            wait_for(url + "/", process)
        yield {name: url for name, (url, _) in processes.items()}
    finally:
        for _, process in processes.values():
            process.terminate()
        for _, process in processes.values():
            process.wait(timeout=30)
        if log:
            output.close()
