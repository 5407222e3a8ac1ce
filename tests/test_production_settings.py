"""Production refuses to start on weak or missing settings, and says what to change."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from webapp.config import production_problems

from .conftest import ROOT

GOOD = {
    "TASKLANE_ENV": "production",
    "SECRET_KEY": "5f0c3b9e8a7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b",
    "DATABASE_URL": "postgresql://tasklane@db.internal/tasklane",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "MAIL_URL": "smtp://relay.internal:587?starttls=1",
    "PUBLIC_URL": "https://tasks.example.com",
    "PROXY_HOPS": "1",
}


def _start(settings: dict[str, str]) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name not in GOOD}
    return subprocess.run(
        [sys.executable, "-c", "from webapp import create_app; create_app(); print('started')"],
        cwd=ROOT,
        env={**env, **settings, "TASKLANE_INSTANCE": os.environ["TASKLANE_INSTANCE"]},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_starts_with_complete_settings():
    started = _start(GOOD)
    assert started.returncode == 0, started.stderr
    assert "started" in started.stdout


def test_production_refuses_to_start_and_lists_every_problem():
    weak = {**GOOD, "SECRET_KEY": "x", "PUBLIC_URL": "", "FLASK_DEBUG": "1"}
    del weak["PROXY_HOPS"]

    refused = _start(weak)

    assert refused.returncode != 0
    for problem in (
        "SECRET_KEY is too weak",
        "PUBLIC_URL is not set",
        "PROXY_HOPS is not set",
        "FLASK_DEBUG",
    ):
        assert problem in refused.stderr, problem


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("SECRET_KEY", "changeme", "too weak"),
        ("SECRET_KEY", "a" * 64, "too weak"),
        ("PUBLIC_URL", "http://tasks.example.com", "https://"),
        ("PROXY_HOPS", "yes", "number of proxies"),
        ("CDN_URL", "http://cdn.example.com", "CDN_URL must start with https://"),
        ("FLASK_DEBUG", "true", "FLASK_DEBUG must be off"),
        ("MAIL_URL", "", "MAIL_URL is not set"),
    ],
)
def test_each_weak_setting_is_named(name, value, problem):
    problems = production_problems({**GOOD, name: value})
    assert len(problems) == 1 and problem in problems[0], problems


def test_complete_settings_have_no_problem():
    assert production_problems(GOOD) == []
