"""Helpers the test modules share (fixtures live in conftest.py)."""

from __future__ import annotations

import re

RESET_SENT = "If an account exists for that address, we have sent a link"


def page_text(response) -> str:
    return response.get_data(as_text=True)


def page_without_tokens(response) -> str:
    """The page as a user sees it: CSRF tokens carry a timestamp, so two requests differ there."""
    return re.sub(r"(X-CSRFToken\": \"|name=\"csrf_token\" value=\")[^\"]+", r"\1…", page_text(response))


def ask_for_reset(client, email: str):
    """Submit the reset form and let the response close, as a browser's would: that is when the
    app asks a worker to hand the mail out."""
    with client.post("/reset", data={"email": email}) as response:
        return response
