"""A real local SMTP server (aiosmtpd) that records what it receives, for tests and benchmarks.

It can be told to hold the next message before accepting it (a worker killed then never got a
"250 OK", so the message was never delivered), or to refuse messages with a chosen reply.

Tests run it in a thread of their own process. The benchmarks run it in a process of its own
(`SinkProcess`): in the benchmark's process it shared one GIL with the sweep and the counting,
answered late, and accepted half of what it does alone, so it measured itself, not the product.

Even alone it spends about 0.7 ms of CPU per mail, a third of what the whole delivery costs on a
2-core machine, where a real relay would run on another host. So the mail benchmarks prefer
Postfix's `smtp-sink` (`PostfixSink`, Debian package postfix), a C server that costs under a tenth
of that, and fall back to `SinkProcess` where it is not installed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Received:
    message_id: str
    to: str
    subject: str
    headers: dict
    text: str
    at: float  # time.time() when accepted


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SmtpSink:
    def __init__(self, *, keep_bodies: bool = True) -> None:
        self.received: list[Received] = []
        self.connections = 0
        self._keep_bodies = keep_bodies
        self._lock = threading.Lock()
        self._hold_after: int | None = None
        self.holding = threading.Event()
        self._release = threading.Event()
        self._refusals: list[str] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=free_port())

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self._controller.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._controller.stop()

    # --- controls ---
    def hold_after(self, count: int) -> None:
        """Accept `count` messages, then stall the next one before MAIL FROM is answered."""
        self._hold_after = count
        self.holding.clear()
        self._release.clear()

    def release(self) -> None:
        self._hold_after = None
        self._release.set()

    def refuse_next(self, *replies: str) -> None:
        """Answer the next messages' DATA with these replies (e.g. "451 try later")."""
        with self._lock:
            self._refusals.extend(replies)

    # --- what arrived ---
    @property
    def message_ids(self) -> list[str]:
        return [message.message_id for message in self.received]

    def duplicates(self) -> dict[str, int]:
        return {mid: n for mid, n in Counter(self.message_ids).items() if n > 1}

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} messages arrived within {timeout} s")
            time.sleep(0.02)

    # --- aiosmtpd handler hooks ---
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self._hold_after is not None and len(self.received) >= self._hold_after:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self._release.wait)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self._refusals:
                return self._refusals.pop(0)
        if not self._keep_bodies:  # benchmarks: only what counting needs, cheaply
            found = MESSAGE_ID.search(envelope.content)
            message_id = found.group(1).decode() if found else ""
            self.received.append(Received(message_id, ",".join(envelope.rcpt_tos), "", {}, "", time.time()))
            return "250 Message accepted"
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(preferencelist=("plain",)) if self._keep_bodies else None
        self.received.append(
            Received(
                message_id=str(parsed["Message-ID"]),
                to=",".join(envelope.rcpt_tos),
                subject=str(parsed["Subject"]),
                headers=dict(parsed.items()) if self._keep_bodies else {},
                text=body.get_content() if body is not None else "",
                at=time.time(),
            )
        )
        return "250 Message accepted"


def _serve(control) -> None:
    """The child process of a SinkProcess: a bench sink, answering the parent's requests for what
    arrived (the index of the first record it lacks; "clear"; None to stop)."""
    sink = SmtpSink(keep_bodies=False).start()
    control.send(sink.url)
    try:
        while (request := control.recv()) is not None:
            if request == "clear":
                sink.received.clear()
                control.send([])
            else:
                control.send(sink.received[request:])
    finally:
        sink.stop()


class SinkProcess:
    """An SmtpSink that keeps only Message-IDs and arrival times, in a process of its own.

    `received` fetches what arrived since the last look, so reading it is cheap however often the
    benchmark counts."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # a clean child, not a copy of the app
        self._control, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child,), daemon=True)
        self._received: list[Received] = []
        self.url = ""

    @property
    def pid(self) -> int:
        return self._process.pid

    def start(self) -> SinkProcess:
        self._process.start()
        self.url = self._control.recv()
        return self

    @property
    def received(self) -> list[Received]:
        self._control.send(len(self._received))
        self._received += self._control.recv()
        return self._received

    @property
    def message_ids(self) -> list[str]:
        return [message.message_id for message in self.received]

    def clear(self) -> None:
        self._control.send("clear")
        self._control.recv()
        self._received = []

    def stop(self) -> None:
        self._control.send(None)
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


class PostfixSink:
    """Postfix's `smtp-sink` on a free port, with the interface of `SinkProcess`.

    It appends each message to a file named after the second it arrived in (strftime `%s`), so a
    message's `at` is the end of that second: an upper bound, off by less than a second, which
    can only make delivery look slower. Reading `received` parses only what was added since the
    last look."""

    COMMAND = "smtp-sink"

    def __init__(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="tasklane-smtp-sink-"))
        self._folder.chmod(0o777)  # smtp-sink drops root privileges (-u) before it writes
        self._process: subprocess.Popen | None = None
        self._read_up_to: dict[Path, int] = {}
        self._received: list[Received] = []
        self.url = ""

    @classmethod
    def installed(cls) -> bool:
        return shutil.which(cls.COMMAND) is not None

    @property
    def pid(self) -> int:
        return self._process.pid

    def start(self, timeout: float = 10) -> PostfixSink:
        port = free_port()
        command = [self.COMMAND, "-u", "nobody", "-D", f"{self._folder}/%s", f"127.0.0.1:{port}", "1024"]
        self._process = subprocess.Popen(command, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not _accepts_connections(port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"smtp-sink did not start: {self._process.stderr.read().decode()}")
            time.sleep(0.05)
        self.url = f"smtp://127.0.0.1:{port}"
        return self

    @property
    def received(self) -> list[Received]:
        self._read_what_arrived()
        return self._received

    def _read_what_arrived(self) -> None:
        # smtp-sink also writes short-lived files whose names add a random suffix to the second
        for dump in sorted(path for path in self._folder.iterdir() if path.name.isdigit()):
            self._received += self._read_new(dump)

    def _read_new(self, dump: Path) -> list[Received]:
        with dump.open("rb") as file:
            file.seek(self._read_up_to.get(dump, 0))
            chunk = file.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written is read next time
        self._read_up_to[dump] = self._read_up_to.get(dump, 0) + len(complete)
        arrived_by = int(dump.name) + 1.0
        found = MESSAGE_ID.findall(complete)
        return [Received(message_id.decode(), "", "", {}, "", arrived_by) for message_id in found]

    @property
    def message_ids(self) -> list[str]:
        return [message.message_id for message in self.received]

    def clear(self) -> None:
        self._read_what_arrived()  # so that nothing read later predates the clear
        self._received = []

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
        shutil.rmtree(self._folder, ignore_errors=True)


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


Sink = SinkProcess | PostfixSink
SINKS = {"smtp-sink": PostfixSink, "aiosmtpd": SinkProcess}


def default_sink() -> str:
    return "smtp-sink" if PostfixSink.installed() else "aiosmtpd"
