"""Rate limits (webapp/limits.py) against the real Redis-compatible server, and with it stopped or
hung: per signed-in user (cache hits included), per address when anonymous, per account for
logins from many real loopback addresses, per target e-mail for sign-ups and resets."""

from __future__ import annotations

import os
import signal

import pytest

from webapp.extensions import db
from webapp.models import Task

from .conftest import PASSWORD, AuthActions, redis_pid
from .support import login_from, make_user, page_text, serving
from .test_cache_hits import paths_reaching_flask
from .test_cache_resilience import _answers

HTMX = {"HX-Request": "true"}
TOO_MANY = "Too many requests. Please try again in"


@pytest.fixture
def limits_on(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_READS="6 per minute",
        RATELIMIT_WRITES="4 per minute",
        RATELIMIT_LOGIN_FAILURES_PER_ACCOUNT="5 per hour",
    )


def _limited_as_a_user_sees_it(response, *, allowed: int) -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == str(allowed)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert TOO_MANY in page_text(response)


def _client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _new_task(client, title: str, **kwargs):
    return client.post("/tasks", data={"title": title}, **kwargs)


def test_writes_past_the_limit_answer_429_and_write_nothing(limits_on, app, client, user):
    for number in range(4):
        assert _new_task(client, f"Task {number}").status_code == 303

    page = _new_task(client, "One too many")
    fragment = _new_task(client, "One too many", headers=HTMX)

    _limited_as_a_user_sees_it(page, allowed=4)
    assert "<html" in page_text(page)
    _limited_as_a_user_sees_it(fragment, allowed=4)
    assert "<html" not in page_text(fragment)
    assert fragment.headers["HX-Retarget"] == "#flash"
    assert db.session.scalar(db.select(db.func.count()).select_from(Task)) == 4


def test_the_limit_is_per_user_not_per_address(limits_on, app, client, user, other_client, other_user):
    for number in range(5):
        _new_task(client, f"Ada's {number}")
    assert _new_task(client, "Ada's last").status_code == 429

    assert _new_task(other_client, "Bob's first").status_code == 303


def test_cache_hits_count_against_the_reads_limit_once_each(limits_on, app, client, user):
    remaining = []
    with paths_reaching_flask(app) as reached:
        for _ in range(6):
            response = client.get("/tasks")
            assert response.status_code == 200
            remaining.append(response.headers["X-RateLimit-Remaining"])

    assert len(reached) < 6, "some reads were answered from the cache, before Flask"
    assert remaining == ["5", "4", "3", "2", "1", "0"]
    _limited_as_a_user_sees_it(client.get("/tasks"), allowed=6)


def test_anonymous_requests_count_per_address(limits_on, app):
    first, second = (_client_from(app, address) for address in ("10.0.0.1", "10.0.0.2"))
    for _ in range(6):
        assert first.get("/login").status_code == 200

    _limited_as_a_user_sees_it(first.get("/login"), allowed=6)
    assert second.get("/login").status_code == 200


# --- logins per account, from many real addresses ------------------------------------------------


def test_failed_logins_are_limited_per_account_whatever_the_address(limits_on, app):
    make_user("ada@example.com")
    make_user("bob@example.com")
    with serving(app) as base_url:
        failures = [login_from(base_url, f"127.0.0.{n}", "ada@example.com", "wrong") for n in range(2, 6)]
        success = login_from(base_url, "127.0.0.6", "ada@example.com", PASSWORD)
        last_failure = login_from(base_url, "127.0.0.7", "ADA@example.com ", "wrong")
        refused = login_from(base_url, "127.0.0.8", "ada@example.com", PASSWORD)
        someone_else = login_from(base_url, "127.0.0.8", "bob@example.com", PASSWORD)

    assert failures == [422] * 4
    assert success == 303, "a successful login does not count as a failure"
    assert last_failure == 422
    assert refused == 429, "five failures from five addresses: the account takes no more tries this hour"
    assert someone_else == 303


def test_sign_ups_for_one_address_are_limited_from_any_address(limits_on, app):
    def sign_up_from(address: str, email: str):
        client = _client_from(app, address)
        return AuthActions(client).signup(email=email, password="too short")

    answers = [sign_up_from(f"10.0.1.{n}", "ada@example.com").status_code for n in range(1, 5)]

    assert answers == [422, 422, 422, 429]
    assert sign_up_from("10.0.1.5", "bob@example.com").status_code == 422


def test_reset_requests_for_one_inbox_are_limited_from_any_address(limits_on, app):
    def reset_from(address: str, email: str):
        client = _client_from(app, address)
        with client.post("/reset", data={"email": email}) as response:
            return response.status_code

    answers = [reset_from(f"10.0.2.{n}", "ada@example.com") for n in range(1, 5)]

    assert answers == [200, 200, 200, 429]
    assert reset_from("10.0.2.5", "bob@example.com") == 200


# --- Redis stopped or hung -----------------------------------------------------------------------


@pytest.fixture
def three_logins_a_minute(app_config):
    app_config["RATELIMIT_LOGIN_PER_ADDRESS"] = "3 per minute"


def _wrong_logins(app, times: int) -> list[int]:
    client = app.test_client()
    data = {"email": "ada@example.com", "password": "not it"}
    return [_answers(client, "/login", "post", data=data).status_code for _ in range(times)]


def test_with_redis_stopped_the_limits_hold_in_the_process(three_logins_a_minute, own_redis, app):
    own_redis["server"].stop()

    assert _wrong_logins(app, 5) == [422, 422, 422, 429, 429]


def test_with_redis_hung_the_limits_hold_in_the_process(three_logins_a_minute, own_redis, app):
    os.kill(redis_pid(own_redis), signal.SIGSTOP)

    assert _wrong_logins(app, 5) == [422, 422, 422, 429, 429]
