"""Server-side sessions: the cookies carry a random token; a UserSession row makes it valid.

Deleting the row ends the session, so a copied or replayed cookie stops working at logout or
password change. Non-remembered sessions slide: each use pushes the idle expiry forward (written
at most every few minutes).

A confirmed session and its user's row are cached (webapp/cache.py), so a request costs no query;
whatever ends a session or changes the user bumps the user's generation, and the next request
asks the database again.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, redirect, request, url_for
from flask_login import login_user, logout_user
from sqlalchemy import delete, func, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from .. import cache
from ..extensions import db, login_manager
from ..models import User, UserSession
from ..responses import is_safe_path, wants_fragment
from ..timezones import now_utc
from .tokens import token_hash

SLIDE_EVERY = timedelta(minutes=5)
# Kept out of the cached user: the password hash never goes to Redis, and the columns the sweep
# writes are read from the database (they load on first use) rather than from an old copy.
UNCACHED_USER_COLUMNS = frozenset({"password_hash", "due_tomorrow_planned_on", "digest_planned_on"})
# Requests a page makes by itself (the bell's poll): they must not keep an idle session alive.
BACKGROUND_ENDPOINTS = frozenset({"reminders.notification_count"})


def _idle(app: Flask | None = None) -> timedelta:
    return timedelta(hours=(app or current_app).config["SESSION_IDLE_HOURS"])


def _absolute() -> timedelta:
    """However active, a session that does not remember the browser ends this long after login."""
    return timedelta(days=current_app.config["SESSION_ABSOLUTE_DAYS"])


def _remember_for() -> timedelta:
    return timedelta(days=current_app.config["REMEMBER_DAYS"])


def start_session(user: User, *, remember: bool = False) -> None:
    """Sign this browser in with a new server-side session."""
    token = secrets.token_urlsafe(32)
    lifetime = _remember_for() if remember else _idle()
    db.session.add(
        UserSession(
            token_hash=token_hash(token), user_id=user.id, remember=remember, expires_at=now_utc() + lifetime
        )
    )
    user.last_login_at = now_utc()
    db.session.commit()
    user.session_token = token
    login_user(user, remember=remember, duration=_remember_for())


def end_session(user: User) -> None:
    """Sign this browser out: its session row goes, so its old cookies are worthless."""
    if user.session_token:
        hashed = token_hash(user.session_token)
        db.session.execute(delete(UserSession).where(UserSession.token_hash == hashed))
        cache.account_changed(user.id)
        db.session.commit()
    logout_user()


def _others_of(user: User) -> tuple:
    """The conditions for the user's sessions other than this browser's."""
    return UserSession.user_id == user.id, UserSession.token_hash != token_hash(user.session_token or "")


def end_other_sessions(user: User) -> int:
    """Sign every other browser of this user out; how many there were."""
    ended = db.session.execute(delete(UserSession).where(*_others_of(user))).rowcount
    cache.account_changed(user.id)
    db.session.commit()
    return ended


def other_sessions(user: User) -> int:
    """How many other browsers are signed in as this user."""
    count = select(func.count()).where(*_others_of(user), UserSession.expires_at > now_utc())
    return db.session.scalar(count)


def current_session_remembered(user: User) -> bool:
    row = db.session.get(UserSession, token_hash(user.session_token)) if user.session_token else None
    return bool(row and row.remember)


def _slide_due(expires_at, remember: bool, endpoint: str | None, idle: timedelta) -> bool:
    idle_expiry_due = expires_at < now_utc() + idle - SLIDE_EVERY
    return not remember and idle_expiry_due and endpoint not in BACKGROUND_ENDPOINTS


def cached_copy_usable(app: Flask, copy: dict, endpoint: str | None) -> bool:
    """A cached session (confirmed under the user's current generation) serves this request
    without the database: it has not expired and its idle expiry need not slide yet."""
    expires_at = copy["expires_at"]
    return expires_at > now_utc() and not _slide_due(expires_at, copy["remember"], endpoint, _idle(app))


def _cacheable_copy(row: UserSession) -> dict:
    user = {
        column.key: getattr(row.user, column.key)
        for column in User.__table__.columns
        if column.key not in UNCACHED_USER_COLUMNS
    }
    return {"expires_at": row.expires_at, "remember": row.remember, "user": user}


def _user_from_copy(copy: dict) -> User:
    """The cached row as a persistent User of this request's session, without a query: changes
    to it are saved as usual; the columns left out load on first use."""
    key = identity_key(User, copy["user"]["id"])
    if key in db.session.identity_map:  # this request loaded the user already
        return db.session.identity_map[key]
    user = User(**copy["user"])
    make_transient_to_detached(user)
    db.session.add(user)
    return user


@login_manager.user_loader
def load_session_user(token: str) -> User | None:
    if not token or len(token) > 128:
        return None
    hashed = token_hash(token)
    cached = cache.cached_session(hashed)
    if cached and cached.valid and cached_copy_usable(current_app, cached.data, request.endpoint):
        user = _user_from_copy(cached.data)
        user.session_token = token
        return user
    row = db.session.get(UserSession, hashed)
    if row is None or row.expires_at <= now_utc() or not row.user.is_active:
        return None
    if _slide_due(row.expires_at, row.remember, request.endpoint, _idle()):
        row.expires_at = min(now_utc() + _idle(), row.created_at + _absolute())
        db.session.commit()
    cache.keep_session(hashed, row.user_id, _cacheable_copy(row), cached.generation if cached else None)
    user = row.user
    user.session_token = token
    return user


@login_manager.unauthorized_handler
def _ask_to_log_in():
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    if wants_fragment():
        # A click on a page whose session has ended (logged out in another tab, expired): log in,
        # then back to that page, not to the fragment the click asked for.
        flash(SESSION_ENDED, "info")
        login_url = _login_url(_page_the_user_is_on() or target)
        return "", 401, {"HX-Redirect": login_url, "Vary": "HX-Request"}
    if target == "/":  # the landing page: the same redirect for every visitor, cookie-less
        return redirect(url_for("auth.login"))
    flash(login_manager.login_message, login_manager.login_message_category)
    return redirect(_login_url(target))


SESSION_ENDED = "Your session has ended. Please log in again to go on where you were."


def _page_the_user_is_on() -> str:
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    return current.path + (f"?{current.query}" if current.query else "")


def _login_url(target: str | None) -> str:
    return url_for("auth.login", next=target if is_safe_path(target) else None)


login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see that page."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"
