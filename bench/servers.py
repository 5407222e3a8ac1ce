"""Servers on loopback for tests and benchmarks: gunicorn serving an app, and the production nginx
configs run unprivileged: nginx/tasklane.conf (TLS on a self-signed certificate) in front of
several app instances, nginx/tasklane-assets.conf as the asset origin."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# The production upstream's instances, one line each: replaced by one line per local address.
PRODUCTION_INSTANCE = re.compile(r"^(?P<indent> *)server 127\.0\.0\.1:8\d{3}(?P<checks> .*;)\n", re.MULTILINE)
PRODUCTION_TLS = "/etc/letsencrypt/live/tasklane.example.com/"
PRODUCTION_REDIRECT = "https://$host$request_uri"
PRODUCTION_ROOT = "/srv/tasklane/"
PRODUCTION_CACHE = "/var/cache/nginx/tasklane"
PRODUCTION_ASSETS = "/srv/tasklane-assets"
PRODUCTION_LOGS = "/var/log/nginx/"
MODULES = Path("/usr/lib/nginx/modules")
BROTLI_MODULES = (MODULES / "ngx_http_brotli_filter_module.so", MODULES / "ngx_http_brotli_static_module.so")
NGINX_PACKAGES = "nginx libnginx-mod-http-brotli-filter libnginx-mod-http-brotli-static"
NGINX_MISSING = f"nginx is not installed (apt-get install {NGINX_PACKAGES})"


def nginx_installed() -> bool:
    return Path(NGINX).exists() and all(module.exists() for module in BROTLI_MODULES)


@dataclass(frozen=True)
class LocalNginx:
    """nginx running a production site on loopback. `url` is where the site is served (HTTPS when
    it has TLS), `http_url` its plain HTTP port (which then redirects to `url`), `certificate` the
    self-signed one it presents, for clients to trust (`requests`: verify=certificate)."""

    url: str
    http_url: str
    certificate: Path | None
    workdir: Path

    def tls(self) -> ssl.SSLContext | None:
        return ssl.create_default_context(cafile=self.certificate) if self.certificate else None

    def open(self, request: str | urllib.request.Request, timeout: float = 30):
        """urllib's urlopen, trusting this nginx's certificate."""
        return urllib.request.urlopen(request, timeout=timeout, context=self.tls())

    @property
    def access_log(self) -> Path:
        return self.workdir / "tasklane.access.log"


def self_signed_certificate(directory: Path) -> Path:
    """A certificate for 127.0.0.1 and its key, made with openssl in `directory` under the names
    certbot gives them; returns the certificate (also the chain: it signed itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate = directory / "fullchain.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-nodes", "-days", "7"),
            *("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(directory / "privkey.pem"), "-out", str(certificate)),
        ],
        check=True,
        capture_output=True,
    )
    shutil.copy(certificate, directory / "chain.pem")
    return certificate


def local_config(site: str, workdir: Path, http_port: int, https_port: int) -> str:
    """A production site (a file under nginx/) on 127.0.0.1, plain HTTP on `http_port` and TLS on
    `https_port` with the certificate in `workdir`/tls, reading this checkout, its cache and
    temporary files under `workdir`, inside a minimal nginx.conf that loads the brotli modules
    (Debian's nginx.conf loads every installed one)."""
    site = re.sub(r"^ *listen \[::\].*\n", "", site, flags=re.MULTILINE)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ", f"listen 127.0.0.1:{https_port} ")
    site = site.replace(PRODUCTION_REDIRECT, f"https://$host:{https_port}$request_uri")
    site = site.replace(PRODUCTION_TLS, f"{workdir}/tls/")
    site = site.replace(PRODUCTION_ROOT, f"{ROOT}/")
    site = site.replace(PRODUCTION_CACHE, str(workdir / "cache"))
    site = site.replace(PRODUCTION_LOGS, f"{workdir}/")
    # The app sees the port the client used (a browser's Referer names it): production listens on
    # 443, where $host is the whole address already.
    site = site.replace("proxy_set_header Host $host;", "proxy_set_header Host $http_host;")
    site = site.replace(
        "proxy_set_header X-Forwarded-Host $host;", "proxy_set_header X-Forwarded-Host $http_host;"
    )
    modules = " ".join(f"load_module {module};" for module in BROTLI_MODULES)
    # Workers run as this user: a checkout in a private temporary folder is unreadable to `nobody`.
    return f"""
        daemon off;
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes auto;
        pid {workdir}/nginx.pid;
        error_log {workdir}/error.log;
        {modules}
        events {{ worker_connections 1024; }}
        http {{
            include /etc/nginx/mime.types;
            access_log off;
            client_body_temp_path {workdir};
            proxy_temp_path {workdir};
            {site}
        }}
        """


def wait_for(
    url: str, process: subprocess.Popen, timeout: float = 60, context: ssl.SSLContext | None = None
) -> None:
    """Until `url` answers with a success; fail early if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1, context=context).close()
            return
        except OSError:  # refused, reset or timed out while the server starts
            time.sleep(0.1)
    raise RuntimeError(f"no answer from {url} after {timeout} s")


@contextmanager
def running_nginx(
    app_addresses: Sequence[str], workdir: Path, ready_path: str = "/login"
) -> Iterator[LocalNginx]:
    """nginx with the production site (nginx/tasklane.conf) in front of the app instances at
    `app_addresses` ("127.0.0.1:PORT" each), with TLS on a self-signed certificate; yields it
    once `ready_path` is served through it."""
    site = (ROOT / "nginx" / "tasklane.conf").read_text()
    first = PRODUCTION_INSTANCE.search(site)
    instances = "".join(f"{first['indent']}server {address}{first['checks']}\n" for address in app_addresses)
    site = site[: first.start()] + instances + PRODUCTION_INSTANCE.sub("", site[first.start() :])
    with _running_site(site, workdir, ready_path) as nginx:
        yield nginx


@contextmanager
def running_asset_origin(directory: Path, workdir: Path, ready_path: str) -> Iterator[str]:
    """nginx with the asset origin's site (nginx/tasklane-assets.conf) serving `directory`, what
    `flask assets push --target` wrote; yields its base URL once `ready_path` is served."""
    site = (ROOT / "nginx" / "tasklane-assets.conf").read_text().replace(PRODUCTION_ASSETS, str(directory))
    with _running_site(site, workdir, ready_path) as nginx:
        yield nginx.url


@contextmanager
def _running_site(site: str, workdir: Path, ready_path: str) -> Iterator[LocalNginx]:
    if not nginx_installed():
        raise FileNotFoundError(NGINX_MISSING)
    workdir.mkdir(parents=True, exist_ok=True)
    http_port, https_port = free_port(), free_port()
    with_tls = PRODUCTION_TLS in site
    certificate = self_signed_certificate(workdir / "tls") if with_tls else None
    (workdir / "nginx.conf").write_text(local_config(site, workdir, http_port, https_port))
    http_url = f"http://127.0.0.1:{http_port}"
    nginx = LocalNginx(
        f"https://127.0.0.1:{https_port}" if with_tls else http_url, http_url, certificate, workdir
    )
    process = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf")])
    try:
        wait_for(nginx.url + ready_path, process, context=nginx.tls())
        yield nginx
    finally:
        process.terminate()
        process.wait(timeout=10)


class Instances(Mapping[str, str]):
    """The gunicorns `running_gunicorns` started: each one's base URL by name, and what a drill
    does to one (by name): kill it outright, reload it gracefully, list its worker processes."""

    def __init__(self, processes: dict[str, tuple[str, subprocess.Popen]], workers: int):
        self._processes = processes
        self._workers = workers

    def __getitem__(self, name: str) -> str:
        return self._processes[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._processes)

    def __len__(self) -> int:
        return len(self._processes)

    def address(self, name: str) -> str:
        """Its address as nginx's upstream names it: 127.0.0.1:PORT."""
        return self[name].removeprefix("http://")

    def worker_pids(self, name: str) -> set[int]:
        """The process ids of the instance's workers (the children of its master)."""
        master = self._processes[name][1].pid
        try:
            return {int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()}
        except FileNotFoundError:  # the master is gone
            return set()

    def crash(self, name: str) -> None:
        """SIGKILL the instance, master and workers at once, as a machine losing it would."""
        process = self._processes[name][1]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def reload(self, name: str, timeout: float = 60) -> None:
        """SIGHUP: gunicorn starts new workers and lets the old ones finish their requests; returns
        once every old worker is gone and as many new ones run."""
        url, process = self._processes[name]
        before = self.worker_pids(name)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while True:
            now = self.worker_pids(name)
            if not now & before and len(now) == self._workers:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not reload within {timeout} s: workers {before} → {now}")
            time.sleep(0.05)
        wait_for(url + "/healthz", process)


@contextmanager
def running_gunicorns(
    apps: dict[str, list[str]],
    env: dict[str, str],
    *,
    workers: int = 4,
    log: Path | None = None,
    ready_timeout: float = 60,
) -> Iterator[Instances]:
    """One gunicorn with sync workers for each of `apps` (name: its arguments, ending with the WSGI
    target such as "wsgi:app"), all started at once, each on a free loopback port without an
    access log and in a process group of its own (a crash kills all of it); yields them (their
    base URLs by name) once every app answers."""
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
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
            processes[name] = (f"http://127.0.0.1:{port}", process)
        for url, process in processes.values():
            wait_for(url + "/", process, ready_timeout)
        yield Instances(processes, workers)
    finally:
        for _, process in processes.values():
            if process.poll() is None:
                process.terminate()
        for _, process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a worker stuck on a request: stop it all the same
                process.kill()
                process.wait()
            with contextlib.suppress(ProcessLookupError):  # a worker its master left behind
                os.killpg(process.pid, signal.SIGKILL)
        if log:
            output.close()
