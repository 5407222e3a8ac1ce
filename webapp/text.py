"""Facts about text that input checks and outgoing mail share."""

from __future__ import annotations

import re

# Line breaks (including the Unicode ones str.splitlines honours) and other control characters:
# none belongs in a one-line field, and in a mail header one would start a header of its own.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` with every run of control characters turned into one space."""
    return CONTROL_CHARACTERS.sub(" ", text).strip()


def last_line(text: str) -> str:
    """The last line that says something: an error's summary, as a traceback ends with it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
