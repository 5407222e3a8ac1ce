"""One-click unsubscribe: the link in a mail asks, its button (or a mail client's one-click POST)
switches that mail off, with or without a login; merely opening the link changes nothing."""

from __future__ import annotations

import re

import pytest
from itsdangerous import URLSafeSerializer

from webapp.auth.services import create_account
from webapp.extensions import db
from webapp.models import User
from webapp.reminders.kinds import SWITCHABLE
from webapp.reminders.unsubscribe import unsubscribe_url

from .conftest import PASSWORD

ALL = tuple(kind.preference for kind in SWITCHABLE)


@pytest.fixture
def ada(app) -> User:
    """Ada's account, made without a browser (so it also works with CSRF switched on)."""
    return create_account("ada@example.com", PASSWORD, "Ada", "Europe/London")


@pytest.fixture
def anonymous(app):
    """A mail client or a browser that is not logged in."""
    return app.test_client()


def _path(user: User, kind: str) -> str:
    return unsubscribe_url(user.id, kind).removeprefix("http://localhost")


def _choices(user: User) -> dict[str, bool]:
    db.session.expire_all()
    return {name: getattr(user, name) for name in ALL}


def test_the_link_is_absolute_and_carries_a_signed_token(ada):
    url = unsubscribe_url(ada.id, "overdue")

    assert url.startswith("http://localhost/unsubscribe/")
    token = url.rsplit("/", 1)[1]
    assert URLSafeSerializer("test-secret", salt="unsubscribe").loads(token) == [ada.id, "overdue"]


def test_an_unknown_kind_has_no_link(ada):
    with pytest.raises(ValueError, match="unknown mail kind"):
        unsubscribe_url(ada.id, "everything")


def _unsubscribe_form(page: str, path: str) -> list[str]:
    """The forms on a page that POST to the unsubscribe link itself."""
    return re.findall(rf'<form method="post" action="{re.escape(path)}">', page)


@pytest.mark.parametrize("kind", SWITCHABLE)
def test_opening_the_link_says_what_would_stop_and_changes_nothing(ada, anonymous, kind):
    path = _path(ada, kind)

    response = anonymous.get(path)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"Stop {kind.description}?" in page
    assert len(_unsubscribe_form(page, path)) == 1
    assert page.count('<button type="submit">Unsubscribe</button>') == 1
    assert _choices(ada) == dict.fromkeys(ALL, True)


def test_a_mail_scanner_fetching_the_link_many_times_unsubscribes_nobody(ada, anonymous):
    path = _path(ada, "weekly_digest")

    for _ in range(3):
        assert anonymous.get(path).status_code == 200
        assert anonymous.head(path).status_code == 200

    assert _choices(ada) == dict.fromkeys(ALL, True)


@pytest.mark.parametrize("kind", SWITCHABLE)
def test_the_pages_button_switches_that_mail_off_without_a_login(ada, anonymous, kind):
    column, description = kind.preference, kind.description

    response = anonymous.post(_path(ada, kind))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You are unsubscribed" in page
    assert f"You will no longer get {description}." in page
    assert _choices(ada) == {name: name != column for name in ALL}


def test_unsubscribing_twice_is_harmless(ada, anonymous):
    anonymous.post(_path(ada, "overdue"))

    assert anonymous.post(_path(ada, "overdue")).status_code == 200
    assert _choices(ada)["mail_overdue"] is False


def test_once_switched_off_the_link_says_so_and_offers_no_unsubscribe_button(ada, anonymous):
    path = _path(ada, "overdue")
    anonymous.post(path)

    response = anonymous.get(path)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "You are unsubscribed" in page
    assert "This was already switched off: you no longer get e-mails about overdue tasks." in page
    assert _unsubscribe_form(page, path) == []
    assert _choices(ada)["mail_overdue"] is False


def test_switched_off_in_the_profile_the_link_says_so_too(client, user):
    client.post("/profile", data={"display_name": "Ada", "timezone": "Europe/London", "mail_overdue": "y"})

    page = client.get(_path(user, "weekly_digest")).get_data(as_text=True)

    assert "This was already switched off: you no longer get the weekly digest e-mail." in page
    assert "Switch it back on" in page


def test_logged_out_the_page_points_to_the_profile_instead_of_a_button(ada, anonymous):
    page = anonymous.post(_path(ada, "weekly_digest")).get_data(as_text=True)

    assert "Switch it back on" not in page
    assert 'href="/login?next=/profile"' in page


def test_the_owner_can_switch_it_back_on(client, user):
    page = client.post(_path(user, "due_tomorrow")).get_data(as_text=True)
    assert "Switch it back on" in page
    assert _choices(user)["mail_due_tomorrow"] is False

    response = client.post(_path(user, "due_tomorrow") + "/resubscribe")

    assert response.status_code == 303
    assert response.headers["Location"] == "/profile"
    assert _choices(user)["mail_due_tomorrow"] is True
    assert "You will get the daily e-mail about tasks due tomorrow again." in client.get("/profile").get_data(
        as_text=True
    )
    again = client.get(_path(user, "due_tomorrow")).get_data(as_text=True)
    assert "Stop the daily e-mail about tasks due tomorrow?" in again


def test_another_user_cannot_switch_my_mail_back_on(user, other_client, other_user, anonymous):
    anonymous.post(_path(user, "overdue"))

    page = other_client.get(_path(user, "overdue")).get_data(as_text=True)
    assert "Switch it back on" not in page
    assert other_client.post(_path(user, "overdue") + "/resubscribe").status_code == 404
    assert _choices(user)["mail_overdue"] is False


def test_one_click_post_from_a_mail_client_switches_it_off(ada, anonymous):
    response = anonymous.post(_path(ada, "weekly_digest"), data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert _choices(ada)["mail_weekly_digest"] is False


def test_one_click_post_needs_no_csrf_token_while_other_posts_still_do(csrf_on, ada, anonymous):
    """A tokenless resubscribe from a visitor who is not signed in is a login to ask for
    (tests/test_csrf_everywhere.py refuses tokenless posts of signed-in users)."""
    assert anonymous.get(_path(ada, "due_tomorrow")).status_code == 200
    one_click = anonymous.post(_path(ada, "due_tomorrow"), data={"List-Unsubscribe": "One-Click"})
    resubscribe = anonymous.post(_path(ada, "due_tomorrow") + "/resubscribe")
    credentials = {"email": "ada@example.com", "password": PASSWORD}
    # Logging in is checked by origin, not by token (webapp/origin.py).
    login = anonymous.post("/login", data=credentials, headers={"Sec-Fetch-Site": "cross-site"})

    assert one_click.status_code == 200
    assert resubscribe.status_code == 302
    assert resubscribe.location.startswith("/login")
    assert _choices(ada)["mail_due_tomorrow"] is False
    assert login.status_code == 403


def _tampered(token: str) -> str:
    return token[:-2] + ("AA" if not token.endswith("AA") else "BB")


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_tampered_link_is_a_clear_404_and_changes_nothing(ada, anonymous, method):
    token = _path(ada, "overdue").rsplit("/", 1)[1]

    response = getattr(anonymous, method)(f"/unsubscribe/{_tampered(token)}")

    assert response.status_code == 404
    assert "This unsubscribe link is not valid" in response.get_data(as_text=True)
    assert _choices(ada)["mail_overdue"] is True


@pytest.mark.parametrize(
    "payload",
    [
        "not-a-token",
        URLSafeSerializer("another-key", salt="unsubscribe").dumps([1, "overdue"]),
        URLSafeSerializer("test-secret", salt="password-reset").dumps([1, "overdue"]),
        URLSafeSerializer("test-secret", salt="unsubscribe").dumps([1, "everything"]),
        URLSafeSerializer("test-secret", salt="unsubscribe").dumps(["1", "overdue"]),
        URLSafeSerializer("test-secret", salt="unsubscribe").dumps([1]),
        URLSafeSerializer("test-secret", salt="unsubscribe").dumps({"user": 1}),
        URLSafeSerializer("test-secret", salt="unsubscribe").dumps([987654, "overdue"]),
        URLSafeSerializer("test-secret", salt="unsubscribe").dumps([2**70, "overdue"]),
    ],
)
@pytest.mark.parametrize("method", ["get", "head", "post"])
def test_links_we_did_not_make_or_for_nobody_are_a_404(ada, anonymous, payload, method):
    response = getattr(anonymous, method)(f"/unsubscribe/{payload}")

    assert response.status_code == 404
    assert _choices(ada) == dict.fromkeys(ALL, True)


def test_a_link_for_a_deleted_account_is_a_404(ada, anonymous):
    path = _path(ada, "overdue")
    db.session.delete(ada)
    db.session.commit()

    assert anonymous.get(path).status_code == 404
    assert anonymous.post(path).status_code == 404
