"""Mail: the development outbox, and real SMTP delivery to a real (in-process) SMTP server."""

from __future__ import annotations

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from bench.smtp_sink import free_port
from webapp.mail import PermanentMailError, TransientMailError, build_message, open_mailer, outbox_messages


def send_mail(to: str, subject: str, text: str, *, html: str | None = None, key: str) -> str:
    """Build and send one message as the delivery jobs do; returns its Message-ID."""
    message = build_message(to, subject, text, html=html, key=key)
    with open_mailer() as mailer:
        mailer.send(message)
    return message["Message-ID"]


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login == b"tasklane" and auth_data.password == b"s3cret pass"
        return AuthResult(success=ok, handled=False)  # unhandled failure: aiosmtpd answers 535

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticate,
        auth_require_tls=False,
        enable_SMTPUTF8=True,
    )
    controller.start()
    yield controller, inbox
    controller.stop()


def test_without_mail_url_mail_lands_in_the_outbox_folder_whole(app):
    message_id = send_mail("ada@example.com", "Hello", "See http://localhost/x", key="greeting:1")
    outbox = Path(app.config["OUTBOX_DIR"])
    files = list(outbox.iterdir())
    assert [f.suffix for f in files] == [".eml"]  # no temporary file left behind
    [message] = outbox_messages(outbox)
    assert (message.to, message.subject) == ("ada@example.com", "Hello")
    assert "See http://localhost/x" in message.text
    assert message_id in files[0].read_text()


def test_the_same_key_gives_the_same_message_id_and_another_key_another(app):
    first = send_mail("ada@example.com", "Hello", "Hi", key="greeting:1")
    again = send_mail("ada@example.com", "Hello", "Hi", key="greeting:1")
    other = send_mail("ada@example.com", "Hello", "Hi", key="greeting:2")
    assert first == again != other
    assert first.startswith("<") and first.endswith("@tasklane>")


def test_the_outbox_lists_newest_first(app):
    send_mail("first@example.com", "First", "1", key="a")
    send_mail("second@example.com", "Second", "2", key="b")
    assert [m.subject for m in outbox_messages(Path(app.config["OUTBOX_DIR"]))] == ["Second", "First"]


def test_with_mail_url_mail_goes_over_smtp_with_login(app, smtp_server):
    controller, inbox = smtp_server
    app.config["MAIL_URL"] = f"smtp://tasklane:s3cret%20pass@127.0.0.1:{controller.port}"
    message_id = send_mail(
        "ada@example.com", "Hello", "Plain text", html="<p>Rich text</p>", key="greeting:1"
    )

    [(sender, recipients, content)] = inbox.received
    assert "no-reply@tasklane.local" in sender
    assert recipients == ["ada@example.com"]
    message = message_from_bytes(content, policy=policy.default)
    assert message["Message-ID"] == message_id
    assert message["Subject"] == "Hello"
    assert message.get_body(("plain",)).get_content().strip() == "Plain text"
    assert message.get_body(("html",)).get_content().strip() == "<p>Rich text</p>"
    assert not Path(app.config["OUTBOX_DIR"]).exists()


def test_an_address_beyond_ascii_goes_out_when_the_server_takes_smtputf8(app, smtp_server):
    controller, inbox = smtp_server
    app.config["MAIL_URL"] = f"smtp://tasklane:s3cret%20pass@127.0.0.1:{controller.port}"
    message_id = send_mail("jörg@example.com", "Hallo", "Grüße", key="greeting:2")

    [(_, recipients, content)] = inbox.received
    assert recipients == ["jörg@example.com"]
    message = message_from_bytes(content, policy=policy.default)
    assert message["To"] == "jörg@example.com"
    assert message["Message-ID"] == message_id
    assert message.get_body(("plain",)).get_content().strip() == "Grüße"


def test_an_address_beyond_ascii_fails_for_good_when_the_server_cannot_take_it(app):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=False)
    controller.start()
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{controller.port}"
    try:
        with pytest.raises(PermanentMailError, match="SMTPUTF8"):
            send_mail("jörg@example.com", "Hallo", "Grüße", key="greeting:2")
        send_mail("ada@example.com", "Hello", "Hi", key="greeting:1")
    finally:
        controller.stop()
    assert [recipients for _, recipients, _ in inbox.received] == [["ada@example.com"]]


def test_wrong_smtp_credentials_fail_loudly_so_the_job_can_retry(app, smtp_server):
    controller, inbox = smtp_server
    app.config["MAIL_URL"] = f"smtp://tasklane:wrong@127.0.0.1:{controller.port}"
    with pytest.raises(TransientMailError, match="535"):
        send_mail("ada@example.com", "Hello", "Hi", key="greeting:1")
    assert inbox.received == []
