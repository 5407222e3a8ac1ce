"""Outgoing mail: over SMTP when MAIL_URL is set, otherwise into the development outbox folder.

Message-IDs are derived from a caller's key, so the same logical mail always has the same id
(a retried job can be recognised as a duplicate). A Mailer keeps one SMTP connection open for
a whole batch and sorts failures into transient (try again later) and permanent ones.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import formatdate, parseaddr, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

from .text import one_line

SMTP_TIMEOUT_SECONDS = 10
UTF8 = Charset("utf-8")
UTF8.body_encoding = QP  # bodies stay readable in the raw message
OUTBOX_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{12}\.eml$")


class TransientMailError(Exception):
    """Worth trying again later: a 4xx reply, a dropped connection, a timeout."""


class PermanentMailError(Exception):
    """Trying again will not help: a 5xx reply such as an unknown recipient."""


def message_id_for(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@tasklane>"


def _header(value: str) -> str | Header:
    """A header value never carries a line break into the message: that is how a field (a title
    in the Subject) would add a header of its own, such as Bcc."""
    value = one_line(value)
    return value if value.isascii() else Header(value, "utf-8")


def _server_said(error: smtplib.SMTPResponseException) -> str:
    """The server's reply as the admins' failed-mail page shows it: "550 5.1.1 No such user"."""
    text = error.smtp_error
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return f"{error.smtp_code} {text}"


def _address(value: str) -> str:
    """A recipient is one plain address; anything else cannot be sent (a permanent failure)."""
    if one_line(value) != value or "," in value or "@" not in value:
        raise PermanentMailError(f"not a single e-mail address: {value!r}")
    return value


def build_message(
    to: str,
    subject: str,
    text: str,
    *,
    html: str | None = None,
    key: str,
    headers: dict[str, str] | None = None,
) -> Message:
    """A MIME message (UTF-8, quoted-printable). Built with the compat32 classes: the modern
    Message re-parses every header and was four to five times slower per mail."""
    message: Message = MIMEText(text, "plain", UTF8)
    if html is not None:
        alternative = MIMEMultipart("alternative")
        alternative.attach(message)
        alternative.attach(MIMEText(html, "html", UTF8))
        message = alternative
    message["From"] = _header(current_app.config["MAIL_FROM"])
    message["To"] = _address(to)
    message["Subject"] = _header(subject)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id_for(key)
    for name, value in (headers or {}).items():
        message[name] = _header(value)
    return message


class _WireFormat(policy.Compat32):
    """compat32 as SMTP sends it (CRLF), writing a header that fits on a line as it is when it is
    plain ASCII (or, with utf8, any text: an address beyond ASCII, sent with SMTPUTF8). The stock
    policy builds a Header object to fold every header, which took a sixth of the CPU a worker
    spends on a mail; anything else (a long or encoded header) still goes through it."""

    utf8 = False

    def fold_binary(self, name: str, value) -> bytes:
        if (
            isinstance(value, str)
            and len(name) + len(value) + 2 <= self.max_line_length
            and (self.utf8 or value.isascii())
        ):
            return f"{name}: {value}{self.linesep}".encode()
        return super().fold_binary(name, value)


WIRE_FORMAT = _WireFormat(linesep="\r\n")
WIRE_FORMAT_UTF8 = WIRE_FORMAT.clone(utf8=True)


def wire_bytes(message: Message, *, utf8: bool = False) -> bytes:
    return message.as_bytes(policy=WIRE_FORMAT_UTF8 if utf8 else WIRE_FORMAT)


@functools.cache
def _tls() -> ssl.SSLContext:
    """Built once per process: loading the CA store took ~17 ms, once per send job."""
    return ssl.create_default_context()


class SMTPMailer:
    """Sends over one SMTP connection, opened on first use and reopened after it drops."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"MAIL_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        self._parts = parts
        self._starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
        self._smtp: smtplib.SMTP | None = None
        self._sender = parseaddr(current_app.config["MAIL_FROM"])[1]

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            parts = self._parts
            host, timeout = parts.hostname or "localhost", SMTP_TIMEOUT_SECONDS
            if parts.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout, context=_tls())
            else:
                smtp = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
            if self._starttls and parts.scheme == "smtp":
                smtp.starttls(context=_tls())
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            self._smtp = smtp
        return self._smtp

    def send(self, message: Message) -> None:
        try:
            self._send(self._connection(), message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            kind = TransientMailError if all(400 <= code < 500 for code in codes) else PermanentMailError
            raise kind(f"recipient refused: {error.recipients}") from error
        except smtplib.SMTPResponseException as error:
            # A login refused is the server's configuration, not this mail: worth trying again.
            answer = _server_said(error)
            if 400 <= error.smtp_code < 500 or isinstance(error, smtplib.SMTPAuthenticationError):
                raise TransientMailError(answer) from error
            raise PermanentMailError(answer) from error
        except smtplib.SMTPNotSupportedError as error:  # e.g. a non-ASCII address, no SMTPUTF8
            raise PermanentMailError(str(error)) from error
        except (smtplib.SMTPException, OSError) as error:
            self._drop()
            raise TransientMailError(f"{type(error).__name__}: {error}") from error
        except Exception:
            self._drop()  # whatever went wrong, the next message starts on a clean connection
            raise

    def _send(self, smtp: smtplib.SMTP, message: Message) -> None:
        recipient = message["To"]  # build_message checked it is one plain address
        if (self._sender + recipient).isascii():
            smtp.sendmail(self._sender, [recipient], wire_bytes(message))
            return
        # An address beyond ASCII needs a server that takes SMTPUTF8 (RFC 6531); smtplib raises
        # SMTPNotSupportedError, a permanent failure, for one that does not.
        utf8 = ["SMTPUTF8", "BODY=8BITMIME"]
        smtp.sendmail(self._sender, [recipient], wire_bytes(message, utf8=True), mail_options=utf8)

    def _drop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self._smtp.quit()
        self._drop()


class OutboxMailer:
    """Development: every message becomes a file in the outbox folder."""

    def __init__(self, outbox: Path):
        self._outbox = outbox

    def send(self, message: Message) -> None:
        _write_to_outbox(message, self._outbox, message["Message-ID"])

    def close(self) -> None:
        pass


@contextlib.contextmanager
def open_mailer() -> Iterator[SMTPMailer | OutboxMailer]:
    url = current_app.config.get("MAIL_URL")
    mailer = SMTPMailer(url) if url else OutboxMailer(Path(current_app.config["OUTBOX_DIR"]))
    try:
        yield mailer
    finally:
        mailer.close()


def _write_to_outbox(message: Message, outbox: Path, key: str) -> Path:
    """Write atomically (temp file, then rename) so a reader never sees half a message."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = outbox / f"{stamp}-{hashlib.sha256(key.encode()).hexdigest()[:12]}.eml"
    fd, temp = tempfile.mkstemp(dir=outbox, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(message.as_bytes(policy=policy.SMTP))
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class OutboxMessage:
    name: str
    to: str
    subject: str
    sent_at: datetime | None
    text: str


def _read(path: Path) -> OutboxMessage:
    with path.open("rb") as file:
        message = BytesParser(policy=policy.default).parse(file)
    body = message.get_body(preferencelist=("plain",))
    try:
        sent_at = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        sent_at = None
    return OutboxMessage(
        name=path.name,
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        sent_at=sent_at,
        text=body.get_content() if body is not None else "",
    )


def outbox_messages(outbox: Path) -> list[OutboxMessage]:
    """Every message in the development outbox, newest first."""
    if not outbox.is_dir():
        return []
    names = sorted((p.name for p in outbox.iterdir() if OUTBOX_NAME.match(p.name)), reverse=True)
    return [_read(outbox / name) for name in names]


def outbox_message(outbox: Path, name: str) -> OutboxMessage | None:
    """One message by its file name; None for anything that is not an outbox file name."""
    if not OUTBOX_NAME.match(name) or not (outbox / name).is_file():
        return None
    return _read(outbox / name)
