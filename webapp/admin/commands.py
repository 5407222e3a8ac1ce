"""`flask users …`: bootstrap the first admin and manage accounts from the server.

Each change goes through the same services as the admin pages (the last-admin rule included) and
is written to the audit log with the actor "cli".

`flask overview count`: count the overview's figures now, rather than at the scheduler's next run.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from werkzeug.datastructures import MultiDict

from ..auth.forms import NewAccountRules
from ..auth.services import EmailTaken, user_by_email
from ..models import User
from ..timezones import now_utc
from . import services
from .models import AuditAction
from .site_stats import count_site_figures

users_cli = AppGroup("users", help="Create admins and manage accounts.")


def _user(email: str) -> User:
    user = user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account uses {email}.")
    return user


def _apply(action: AuditAction, email: str) -> None:
    user = _user(email)
    try:
        click.echo(services.ACTIONS[action].apply(None, user))
    except services.AdminRuleBroken as refused:
        raise click.ClickException(str(refused)) from refused


@users_cli.command("create-admin")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Asked for twice, hidden, when not given (a password typed here stays in the shell's history).",
)
@click.option("--name", help="The name the app shows for this account (default: the address before the @).")
def create_admin(email: str, password: str, name: str | None) -> None:
    """Create an account with EMAIL that is an admin from the start."""
    rules = NewAccountRules(MultiDict({"email": email, "password": password, "confirm": password}))
    if not rules.validate():
        problems = [message for field in (rules.email, rules.password) for message in field.errors]
        raise click.ClickException(" ".join(problems))
    try:
        user = services.create_admin(rules.email.data, password, name or rules.email.data.split("@")[0])
    except EmailTaken as taken:
        raise click.ClickException(
            f"An account with {email} already exists: `flask users promote {email}` makes it an admin."
        ) from taken
    click.echo(f"Created admin {user.email}.")


@users_cli.command("list")
def list_users() -> None:
    """Every account: id, e-mail, role, state and sign-up date."""
    for user in services.all_users():
        role = "admin" if user.is_admin else "user"
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.id}\t{user.email}\t{role}\t{state}\t{user.created_at:%Y-%m-%d}")


def _account_command(name: str, action: AuditAction, help_text: str) -> None:
    @users_cli.command(name, help=help_text)
    @click.argument("email")
    def command(email: str) -> None:
        _apply(action, email)


for _name, _action, _help in (
    ("promote", AuditAction.PROMOTE, "Make the account with EMAIL an admin."),
    ("demote", AuditAction.DEMOTE, "Take the admin role from EMAIL (never from the last active admin)."),
    ("deactivate", AuditAction.DEACTIVATE, "Stop EMAIL from logging in, and end its sessions now."),
    ("reactivate", AuditAction.REACTIVATE, "Let EMAIL log in again."),
):
    _account_command(_name, _action, _help)


overview_cli = AppGroup("overview", help="The admin overview's figures.")


@overview_cli.command("count")
def count_overview_figures() -> None:
    """Count users and tasks for the overview now (the scheduler does every few minutes)."""
    for name, value in count_site_figures(now_utc()).items():
        click.echo(f"{name}\t{value}")
