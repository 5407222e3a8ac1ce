"""Whose address the app takes as the client's: with no proxy in front (PROXY_HOPS=0) the
connection's, whatever X-Forwarded-For says; behind PROXY_HOPS proxies, the one the nearest proxy
reports. Rate limits are kept per address, so the login limit shows which address the app took.
(Through the shipped nginx: tests/e2e/test_nginx.py.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support import failed_logins_until_refused, wrong_password


@pytest.fixture
def rate_limited(app_config) -> None:
    app_config["RATELIMIT_ENABLED"] = True


def _login_claiming_another_address(client) -> Callable[[int], int]:
    def send(attempt: int) -> int:
        claimed = {"X-Forwarded-For": f"203.0.113.{attempt}"}
        return client.post("/login", data=wrong_password(attempt), headers=claimed).status_code

    return send


def test_a_direct_client_claiming_other_addresses_still_runs_out_of_login_attempts(rate_limited, app, client):
    assert app.config["PROXY_HOPS"] == 0
    assert failed_logins_until_refused(_login_claiming_another_address(client)) is not None


@pytest.fixture
def behind_one_proxy(app_config) -> None:
    app_config["PROXY_HOPS"] = 1  # the test client stands in for nginx


def test_behind_one_proxy_each_address_it_reports_has_attempts_of_its_own(
    rate_limited, behind_one_proxy, app, client
):
    assert failed_logins_until_refused(_login_claiming_another_address(client)) is None


def test_a_signed_in_browser_claiming_other_addresses_keeps_its_session_as_it_was(app, client, user):
    """Flask-Login compares a hash of X-Forwarded-For with the one taken at login; a header the
    client chose must not be what it hashes."""
    assert client.get("/tasks").status_code == 200  # the first page after sign-up sets its cookie
    for claimed in ("198.51.100.1", "198.51.100.2"):
        response = client.get("/tasks", headers={"X-Forwarded-For": claimed})
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers, "the session changed with the claimed address"
