"""What the benchmarks share: a fresh, migrated database and a progress line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import Flask


def progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    print(
        f"\r  {label:<22} [{'#' * filled}{'.' * (width - filled)}] {done:>7,}/{total:,}", end="", flush=True
    )
    if done == total:
        print(flush=True)


def fresh_instance() -> Path:
    """A throwaway instance folder; set before the app is imported (config reads it)."""
    instance = Path(tempfile.mkdtemp(prefix="tasklane-bench-"))
    os.environ["TASKLANE_INSTANCE"] = str(instance)
    return instance


def migrated_app(instance: Path, database_url: str | None, **config) -> Flask:
    """The app on an empty database (SQLite in `instance`, or PostgreSQL wiped) after migrations."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from webapp import create_app
    from webapp.config import sqlalchemy_url
    from webapp.extensions import db

    url = sqlalchemy_url(database_url or f"sqlite:///{instance / 'bench.db'}")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, **config})
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    return app
