"""PostgreSQL servers of a test's own: the machine's PostgreSQL 15 `initdb`/`pg_ctl`, run as the
`postgres` user, each in a temporary directory on a free loopback port, which the test may stop,
crash, freeze, restart, and give a streaming replica (`pg_basebackup`). The machine's shared
server is never touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from bench.smtp_sink import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TIMEOUT = 120  # seconds for a start, stop or base backup on a loaded machine


def available() -> bool:
    return (PG_BIN / "initdb").exists() and shutil.which("runuser") is not None


def _as_postgres(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *command], check=check, capture_output=True, timeout=TIMEOUT
    )


class PostgresCluster:
    """One server. `options` are extra `-c name=value` settings it starts with."""

    def __init__(self, *options: str, data: Path | None = None) -> None:
        self.options = options
        self.port = free_port()
        if data is None:
            self.data = Path(tempfile.mkdtemp(prefix="tasklane-pg-"))
            shutil.chown(self.data, "postgres", "postgres")
            _as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust")
        else:
            self.data = data

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=5"

    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args, check=check)

    def start(self) -> PostgresCluster:
        """Start and wait until it accepts connections (`pg_ctl -w`)."""
        settings = " ".join(f"-c {option}" for option in self.options)
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 {settings}"
        self._pg_ctl("-l", str(self.data / "server.log"), "-o", options, "-w", "-t", str(TIMEOUT), "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """`fast`: a clean shutdown; `immediate`: a crash (no checkpoint, unflushed WAL lost)."""
        self._pg_ctl("-m", mode, "-w", "-t", str(TIMEOUT), "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def pids(self) -> list[int]:
        """The postmaster and every process it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                fields = dict(
                    line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
                )
                if int(fields.get("PPid", "0")) == postmaster:
                    children.append(int(status.parent.name))
        return [postmaster, *children]

    def freeze(self) -> None:
        """SIGSTOP every process of the server: connections stay open, nothing answers."""
        for pid in self.pids():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def execute(self, sql: str) -> list[tuple]:
        """Run SQL as the superuser over a connection of its own (autocommit)."""
        with psycopg.connect(self.conninfo, autocommit=True) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def streaming_replica(self) -> PostgresCluster:
        """A hot standby of this server made with `pg_basebackup`, started, and streaming."""
        data = Path(tempfile.mkdtemp(prefix="tasklane-pg-replica-"))
        shutil.chown(data, "postgres", "postgres")
        _as_postgres(
            str(PG_BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"),
            *("-D", str(data), "-X", "stream", "-R", "-c", "fast"),
        )
        replica = PostgresCluster(*self.options, data=data).start()
        self.wait_for_streaming()
        return replica

    def wait_for_streaming(self, timeout: float = TIMEOUT) -> None:
        """Until a standby streams from this server (its WAL receiver connected)."""
        deadline = time.monotonic() + timeout
        while not self.execute("SELECT 1 FROM pg_stat_replication WHERE state = 'streaming'"):
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not start streaming")
            time.sleep(0.05)

    def remove(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # not running: no postmaster.pid
            self.thaw()  # a frozen server cannot stop
        self._pg_ctl("-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.data, ignore_errors=True)
