"""Jobs run inside an app context: the worker's own, or one they build when run elsewhere."""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import nullcontext
from typing import ParamSpec, TypeVar

from flask import Flask, has_app_context

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _standalone_app() -> Flask:
    from webapp import create_app

    return create_app()


def in_app_context(job: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(job)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        context = nullcontext() if has_app_context() else _standalone_app().app_context()
        with context:
            return job(*args, **kwargs)

    return run
