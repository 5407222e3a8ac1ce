"""The production nginx config in front of the real app: proxying, static files, body limits."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench.smtp_sink import free_port
from tests.conftest import require
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def nginx_url(live_server, tmp_path_factory):
    require(Path(NGINX).exists(), "nginx is not installed (apt-get install nginx)")
    workdir = tmp_path_factory.mktemp("nginx")
    port = free_port()
    site = (ROOT / "nginx" / "tasklane.conf").read_text()
    site = site.replace("127.0.0.1:8000", live_server.url.removeprefix("http://"))
    site = site.replace("listen 80;", f"listen 127.0.0.1:{port};")
    site = site.replace("/srv/tasklane/", f"{ROOT}/")
    # Workers run as this user: a checkout in a private temporary folder is unreadable to `nobody`.
    (workdir / "nginx.conf").write_text(
        f"""
        daemon off;
        {"user root;" if os.geteuid() == 0 else ""}
        worker_processes 1;
        pid {workdir}/nginx.pid;
        error_log {workdir}/error.log;
        events {{ worker_connections 64; }}
        http {{
            include /etc/nginx/mime.types;
            access_log off;
            client_body_temp_path {workdir};
            proxy_temp_path {workdir};
            {site}
        }}
        """
    )
    process = subprocess.Popen([NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf")])
    url = f"http://127.0.0.1:{port}"
    from tests.e2e.conftest import _wait_for

    _wait_for(url + "/login", process)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_pages_are_proxied_to_the_app(nginx_url):
    with urllib.request.urlopen(nginx_url + "/login") as response:
        assert response.status == 200
        assert "Log in" in response.read().decode()
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_static_files_are_served_by_nginx_with_a_long_cache_lifetime(nginx_url):
    with urllib.request.urlopen(nginx_url + "/static/app.css") as response:
        assert response.status == 200
        assert "Cache-Control" in response.headers
        assert "max-age=604800" in response.headers["Cache-Control"]
        assert "--accent" in response.read().decode()


def test_oversized_bodies_are_refused_before_they_reach_the_app(nginx_url):
    request = urllib.request.Request(nginx_url + "/login", data=b"x" * (200 * 1024), method="POST")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request)
    assert error.value.code == 413
