"""Newest-first keyset pages: each page holds the rows with ids below the last one shown (the
next page's `before`), so any page costs what the first does, never an OFFSET."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from flask import abort, request
from sqlalchemy import Select

from .extensions import db
from .tasks.queries import parse_id

Row = TypeVar("Row")


@dataclass
class Page(Generic[Row]):
    items: list[Row] = field(default_factory=list)
    older_than: int | None = None  # where the next page starts (its `before`); None on the last


def newest_first(query: Select, id_column: Any, before: int | None, page_size: int) -> Page:
    """One page of `query`'s rows by descending id, below `before` (from the newest when None)."""
    if before is not None:
        query = query.where(id_column < before)
    found = list(db.session.scalars(query.order_by(id_column.desc()).limit(page_size + 1)))
    if len(found) <= page_size:
        return Page(found)
    shown = found[:page_size]
    return Page(shown, shown[-1].id)


def before_arg(broken_link: str) -> int | None:
    """The `before` of a "next page" link: None for the newest page, a 400 saying `broken_link`
    when it is not an id."""
    raw = request.args.get("before")
    if not raw:
        return None
    before = parse_id(raw)
    if before is None:
        abort(400, broken_link)
    return before
