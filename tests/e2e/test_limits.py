"""A user past the writes limit sees, in the page, when to try again (the live server runs the
default limits: 60 writes a minute per user)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import look, sign_up

pytestmark = pytest.mark.e2e

WRITES_PER_MINUTE = 60
SPEND_THE_WRITES = """async (count) => {
  const token = document.querySelector('input[name="csrf_token"]').value;
  const statuses = [];
  for (let n = 0; n < count; n++) {
    const body = new URLSearchParams({csrf_token: token, title: `Spent ${n}`});
    statuses.push((await fetch('/tasks', {method: 'POST', body, redirect: 'manual'})).status);
  }
  return statuses;
}"""


def test_past_the_writes_limit_the_page_says_when_to_try_again(new_page):
    page = new_page()
    sign_up(page, "limited@example.com", name="Lim")
    page.goto("/tasks")
    statuses = page.evaluate(SPEND_THE_WRITES, WRITES_PER_MINUTE)
    assert 429 not in statuses, "sign-up counted against the address, not the new user"

    page.get_by_label("New task").fill("One too many")
    page.get_by_role("button", name="Add task").click()

    expect(page.locator("#flash")).to_contain_text(
        re.compile(r"Too many requests\. Please try again in \d+ s\.")
    )
    expect(page.locator("#task-rows").get_by_role("link", name="One too many")).to_have_count(0)
    look(page, "limits-writes-past-the-limit")
