"""`flask users …`: bootstrapping the first admin and managing accounts from the server, with
sign-up's password rules, the last-admin rule and an audit entry by "cli" for each change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, AuthActions
from tests.support import make_user
from webapp.admin.models import AuditEntry
from webapp.admin.services import LAST_ADMIN
from webapp.extensions import db
from webapp.models import User


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _user(email: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).filter_by(email=email))


def _audit() -> list[tuple[str, str, str]]:
    rows = db.session.execute(
        select(AuditEntry.actor, AuditEntry.action, AuditEntry.target).order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


def test_create_admin_with_a_password_makes_an_admin_who_can_log_in(app, runner):
    result = runner.invoke(args=["users", "create-admin", "Root@Example.com", "--password", PASSWORD])

    assert result.exit_code == 0, result.output
    assert "Created admin root@example.com." in result.output
    root = _user("root@example.com")
    assert root.is_admin and root.active
    assert root.email_verified_at is not None  # whoever runs the command vouches for the address
    assert _audit() == [("cli", "create_admin", "root@example.com")]
    browser = app.test_client()
    assert AuthActions(browser).login("root@example.com").status_code == 303
    assert browser.get("/admin/users").status_code == 200


def test_create_admin_without_a_password_asks_for_it_twice_hidden(runner):
    result = runner.invoke(
        args=["users", "create-admin", "root@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output  # hidden input is not echoed
    assert _user("root@example.com").is_admin


def test_create_admin_asks_again_when_the_two_passwords_differ(runner):
    typed = f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(args=["users", "create-admin", "root@example.com"], input=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short one", "Use between 12 and 128 characters."),
        ("x" * 129, "Use between 12 and 128 characters."),
        ("password1234", "one of the most common ones"),
    ],
)
def test_create_admin_refuses_a_password_sign_up_would_refuse(runner, password, message):
    result = runner.invoke(args=["users", "create-admin", "root@example.com", "--password", password])
    assert result.exit_code == 1
    assert message in result.output
    assert _user("root@example.com") is None


def test_create_admin_refuses_a_malformed_address(runner):
    result = runner.invoke(args=["users", "create-admin", "not-an-address", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "Enter an e-mail address like name@example.com." in result.output


def test_create_admin_for_an_existing_address_points_to_promote(runner, user):
    result = runner.invoke(args=["users", "create-admin", "ada@example.com", "--password", PASSWORD])
    assert result.exit_code == 1
    assert "flask users promote ada@example.com" in result.output
    assert not _user("ada@example.com").is_admin


def test_list_shows_every_account_with_its_role_and_state(runner, user):
    runner.invoke(args=["users", "create-admin", "root@example.com", "--password", PASSWORD])
    make_user("bob@example.com")
    runner.invoke(args=["users", "deactivate", "bob@example.com"])

    lines = runner.invoke(args=["users", "list"]).output.splitlines()

    assert [line.split("\t")[1:4] for line in lines] == [
        ["ada@example.com", "user", "active"],
        ["root@example.com", "admin", "active"],
        ["bob@example.com", "user", "deactivated"],
    ]


def test_promote_demote_deactivate_and_reactivate_are_audited_as_cli(runner, user, admin):
    for command in ("promote", "demote", "deactivate", "reactivate"):
        result = runner.invoke(args=["users", command, "ADA@example.com"])
        assert result.exit_code == 0, result.output

    assert _audit() == [
        ("cli", "promote", "grace@example.com"),  # the fixture's
        ("cli", "promote", "ada@example.com"),
        ("cli", "demote", "ada@example.com"),
        ("cli", "deactivate", "ada@example.com"),
        ("cli", "reactivate", "ada@example.com"),
    ]
    assert _user("ada@example.com").active and not _user("ada@example.com").is_admin


def test_deactivating_from_the_cli_ends_the_users_sessions(runner, client, user):
    assert client.get("/tasks").status_code == 200
    runner.invoke(args=["users", "deactivate", "ada@example.com"])
    assert client.get("/tasks").headers["Location"].startswith("/login")


def test_the_cli_keeps_the_last_admin_too(runner, admin):
    for command in ("demote", "deactivate"):
        result = runner.invoke(args=["users", command, "grace@example.com"])
        assert result.exit_code == 1
        assert LAST_ADMIN in result.output
    grace = _user("grace@example.com")
    assert grace.is_admin and grace.active
    assert [action for _, action, _ in _audit()] == ["promote"]


def test_an_unknown_address_is_an_error(runner):
    result = runner.invoke(args=["users", "promote", "nobody@example.com"])
    assert result.exit_code == 1
    assert "No account uses nobody@example.com." in result.output
