"""Checks every request passes before a view reads it."""

from __future__ import annotations

from itertools import chain

from flask import Flask, abort, request

NUL = "\x00"
NUL_REFUSED = "Some of what you sent contains a NUL character, which no field can hold. Please remove it."


def _refuse_nul_characters() -> None:
    """No field or query parameter has a use for NUL, and PostgreSQL refuses it in any text (a
    tag filter or a login carrying one answered 500): the request is a 400 before any view."""
    values = chain.from_iterable(chain(request.args.listvalues(), request.form.listvalues()))
    if any(NUL in value for value in values):
        abort(400, NUL_REFUSED)


def register(app: Flask) -> None:
    app.before_request(_refuse_nul_characters)
