"""Outgoing mail: over SMTP when MAIL_URL is set, otherwise into the development outbox folder.

Message-IDs are derived from a caller's key, so the same logical mail always has the same id
(a retried job can be recognised as a duplicate).
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app

SMTP_TIMEOUT_SECONDS = 10
OUTBOX_NAME = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{12}\.eml$")


def message_id_for(key: str) -> str:
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@tasklane>"


def build_message(to: str, subject: str, text: str, *, html: str | None = None, key: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id_for(key)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def send_mail(to: str, subject: str, text: str, *, html: str | None = None, key: str) -> str:
    """Send one mail and return its Message-ID."""
    message = build_message(to, subject, text, html=html, key=key)
    url = current_app.config.get("MAIL_URL")
    if url:
        _send_smtp(message, url)
    else:
        _write_to_outbox(message, Path(current_app.config["OUTBOX_DIR"]), key)
    return message["Message-ID"]


def _send_smtp(message: EmailMessage, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"MAIL_URL must start with smtp:// or smtps://, not {parts.scheme}://")
    host = parts.hostname or "localhost"
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")
    context = ssl.create_default_context()
    if parts.scheme == "smtps":
        smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=SMTP_TIMEOUT_SECONDS, context=context)
    else:
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=SMTP_TIMEOUT_SECONDS)
    with smtp:
        if starttls and parts.scheme == "smtp":
            smtp.starttls(context=context)
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


def _write_to_outbox(message: EmailMessage, outbox: Path, key: str) -> Path:
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
