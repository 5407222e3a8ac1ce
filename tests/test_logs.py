"""Logs: every line of the web, worker and scheduler processes is one JSON object; a request's id
comes from a trusted proxy or is made, is answered in X-Request-ID, is on each line the request
logs, and follows the jobs it enqueues onto the worker's lines for them. Error tracking starts
with SENTRY_DSN, and only then is its library imported."""

from __future__ import annotations

import gzip
import json
import logging
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from bench.servers import running_gunicorns
from jobs import PLANNING_QUEUE
from tests.conftest import ROOT
from tests.support import make_user
from webapp.extensions import queues

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
FIELDS = {"time", "level", "logger", "message", "request_id"}
READY_TIMEOUT = 120


# --- the request id, in and out ------------------------------------------------------------------


def test_a_direct_client_cannot_choose_its_request_id(app, client):
    answer = client.get("/login", headers={"X-Request-ID": "chosen-by-the-client"})
    assert GENERATED_ID.fullmatch(answer.headers["X-Request-ID"])
    assert client.get("/login").headers["X-Request-ID"] != answer.headers["X-Request-ID"]


@pytest.fixture
def behind_one_proxy(app_config) -> None:
    app_config["PROXY_HOPS"] = 1  # the test client stands in for nginx


def test_behind_a_proxy_its_request_id_is_used_when_it_looks_like_one(behind_one_proxy, app, client):
    assert client.get("/login", headers={"X-Request-ID": "4f2a9c"}).headers["X-Request-ID"] == "4f2a9c"
    odd = client.get("/login", headers={"X-Request-ID": "two words; and more"})
    assert GENERATED_ID.fullmatch(odd.headers["X-Request-ID"])


def test_a_link_token_in_the_path_is_logged_as_its_route(app, client, caplog):
    caplog.set_level(logging.INFO, logger="webapp.requests")
    with client.get("/reset/a-secret-reset-token"):
        pass  # its line is written once the answer has gone (the response closes)
    [line] = [record for record in caplog.records if record.name == "webapp.requests"]
    assert line.path == "/reset/<token>" and "a-secret-reset-token" not in line.getMessage()


# --- real processes: gunicorn, the worker and the scheduler ----------------------------------------


@pytest.fixture
def json_logs(worker_env_overrides) -> None:
    worker_env_overrides["LOG_FORMAT"] = "json"


def _lines(output: str, process: str) -> list[dict]:
    """Every line of a process's log, each of which must be a JSON object with the common fields."""
    entries = []
    for text in output.splitlines():
        try:
            entry = json.loads(text)
        except ValueError:
            pytest.fail(f"a line of the {process} log is not JSON: {text!r}")
        assert entry.keys() >= FIELDS, entry
        entries.append(entry)
    assert entries, f"the {process} logged nothing"
    return entries


def _ask_for_reset(base_url: str, email: str) -> str:
    """The reset form posted as a browser would; the answer's request id."""
    form = urlencode({"email": email}).encode()
    with urllib.request.urlopen(urllib.request.Request(base_url + "/reset", data=form)) as answer:
        assert answer.status == 200
        return answer.headers["X-Request-ID"]


def _wait_for_queued_job(queue_name: str) -> str:
    queue = queues.queue(queue_name)
    deadline = time.monotonic() + READY_TIMEOUT
    while not queue.job_ids:
        assert time.monotonic() < deadline, "the request enqueued no job"
        time.sleep(0.05)
    [job_id] = queue.job_ids
    return job_id


def test_a_request_and_the_jobs_it_enqueues_log_json_lines_with_one_request_id(
    json_logs, smtp_sink, app, worker_env, run_worker_process, tmp_path
):
    make_user("ada@example.com")
    web_log = tmp_path / "web.log"
    with running_gunicorns({"web": ["wsgi:app"]}, worker_env, workers=1, log=web_log) as urls:
        request_id = _ask_for_reset(urls["web"], "ada@example.com")
        hand_out = _wait_for_queued_job(PLANNING_QUEUE)
    assert GENERATED_ID.fullmatch(request_id)

    web = [line for line in _lines(web_log.read_text(), "web") if line["request_id"] == request_id]
    [summary] = [line for line in web if line["logger"] == "webapp.requests"]
    assert (summary["method"], summary["path"], summary["status"]) == ("POST", "/reset", 200)
    assert summary["duration_ms"] >= 0
    assert any(hand_out in line["message"] for line in web), "the enqueuing is logged with the request"

    worker = _lines(run_worker_process().stderr, "worker")
    assert [mail.to for mail in smtp_sink.received] == ["ada@example.com"]
    send_jobs = {line["job_id"] for line in worker if line.get("job_id", "").startswith("send-")}
    assert len(send_jobs) == 1, "the job handed the mail to one send job"
    for job_id in (hand_out, *send_jobs):
        lines = [line for line in worker if line.get("job_id") == job_id]
        assert lines and {line["request_id"] for line in lines} == {request_id}, job_id

    scheduler = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "--burst"]
    ticked = subprocess.run(scheduler, env=worker_env, cwd=ROOT, capture_output=True, text=True, check=True)
    assert {line["logger"] for line in _lines(ticked.stderr, "scheduler")} >= {"rq_scheduler.scheduler"}


# --- error tracking ----------------------------------------------------------------------------------


class _SentryStandIn(BaseHTTPRequestHandler):
    """Accepts what the Sentry SDK sends (envelopes) and keeps their bodies."""

    received: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":  # the SDK prefers brotli when the package is installed
            import brotli

            body = brotli.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def sentry_stand_in():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentryStandIn)
    _SentryStandIn.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://public-key@127.0.0.1:{server.server_port}/1", _SentryStandIn.received
    server.shutdown()
    thread.join()


def _start_app_process(env: dict[str, str], then: str) -> str:
    code = f"import sys; from webapp import create_app; create_app(); {then}"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=READY_TIMEOUT
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_the_app_starts_without_sentry_and_does_not_import_it(app, worker_env):
    assert _start_app_process(worker_env, "print('sentry_sdk' in sys.modules)").strip() == "False"


def test_with_a_sentry_dsn_the_app_reports_to_it(app, worker_env, sentry_stand_in):
    dsn, received = sentry_stand_in
    report = "import sentry_sdk; sentry_sdk.capture_message('tasklane reports'); sentry_sdk.flush(30)"
    _start_app_process({**worker_env, "SENTRY_DSN": dsn}, report)
    assert any(b"tasklane reports" in body for body in received)
