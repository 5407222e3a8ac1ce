"""Form pieces every feature shares."""

from __future__ import annotations


def strip(value: str | None) -> str | None:
    """Drop surrounding whitespace, so "  " counts as empty."""
    return value.strip() if isinstance(value, str) else value
