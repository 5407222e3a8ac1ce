"""The cache: rendered pages and fragments per user, signed-in sessions, and the generations that
invalidate them. This module is the only one that spells cache keys.

- Views opt in with `@cached_view(name)`; services call a named invalidation (`tasks_changed`,
  `projects_changed`, `notifications_changed`, `account_changed`) inside their transaction.
- Every key holds the user's *generation*, a number in Redis replaced by each change: the entries
  of the old generation are never read again and expire by themselves (nothing is scanned or
  deleted). The bump happens right after the transaction commits, so a request that read the
  old rows can only have stored them under the old generation. A per-project generation for
  shared projects would be one more key read in `_generation` and one more invalidation.
- A cached page is stored with a soft expiry: when it passes, one request re-renders under a
  short lock while the others are served the copy they had (stampede protection).
- A signed-in request for a cached page costs one Redis round trip and no query: one MGET reads
  the session, its user's generation and the page together (`session_and_page`). When all is
  current, `webapp/cache_hits.py` answers it before Flask; otherwise Flask's path takes what it
  looked up (`_prefetch`) and handles what the shortcut does not.
- Redis down or hung: every call fails within REDIS_SOCKET_TIMEOUT, then the cache stays off in
  this process for CACHE_RETRY_SECONDS and pages are rendered uncached; it comes back by itself.
  A change made while Redis could not be told bumps a global epoch once Redis answers again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context, has_request_context, request, session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

from . import stats
from .extensions import cache, db
from .limits import ReadCounter, ReadsCounted
from .responses import add_triggers, wants_fragment

log = logging.getLogger(__name__)

# The cached views, by the name their hit and miss counts are recorded under.
FRAGMENTS = ("dashboard", "today", "upcoming", "task_list", "project_tasks", "bell")
COUNTED = ("lookup", "stale", "miss", "not_modified")  # hits are lookups that were none of those
# Sent to htmx after a write that changed the user's tasks: listening parts of the page re-fetch.
TASKS_CHANGED_EVENT = "tasks-changed"
NOTIFICATIONS_CHANGED_EVENT = "notifications-changed"
PRIVATE = "private, no-store"  # the Cache-Control of every answer for a signed-in user
# For what polls with an ETag (the bell): the browser may keep it, and asks each time.
REVALIDATE = "private, no-cache"
CACHED_PAGE_VARY = ("HX-Request", "Cookie")
WAIT_STEP = 0.05  # seconds between looks for a page another request is rendering
EPOCH_KEY = "generation:epoch"  # part of every generation: bumped after a change Redis missed
# What cache_hits found for a request it handed on to Flask: (token hash, SessionAndPage | None).
LOOKED_UP_ENVIRON_KEY = "tasklane.session_and_page"
_CHANGED_USERS = "tasklane_changed_users"  # Session.info: users whose generation the commit bumps
MEMO_SIZE = 10_000  # sessions and users a process remembers (see _State)


@dataclass
class _State:
    """Per app (each test builds its own): whether Redis is taken to be down, until when; and
    what this process remembers to look a session and its page up in one round trip."""

    down_until: float = 0.0
    missed_invalidation: bool = False
    user_of_session: dict[str, int] = field(default_factory=dict)  # never changes for a session
    generation_seen: dict[int, str] = field(default_factory=dict)  # the last one read, per user
    active_counted: dict[int, date] = field(default_factory=dict)  # the day each was last counted


@dataclass
class _Changes:
    user_ids: set[int] = field(default_factory=set)
    events: set[str] = field(default_factory=set)


def init_app(app: Flask) -> None:
    app.extensions["tasklane_cache"] = _State()
    app.after_request(_finish_response)
    if not event.contains(Session, "after_commit", _bump_after_commit):
        event.listen(Session, "after_commit", _bump_after_commit)
        event.listen(Session, "after_rollback", _forget_changes)


# --- talking to Redis, or not --------------------------------------------------------------------


def state_of(app: Flask) -> _State:
    return app.extensions["tasklane_cache"]


def _state() -> _State:
    return state_of(current_app)


def _call(operation: Callable[..., Any], *args, **kwargs) -> Any:
    """Run one cache operation; None (a miss) when Redis is down, hung, or taken to be.

    The first call that reaches Redis after this process failed to bump a generation bumps the
    epoch first, which every key holds: whatever was stored before is never read again."""
    state = _state()
    if time.monotonic() < state.down_until:
        return None
    try:
        if state.missed_invalidation:
            cache.set(EPOCH_KEY, _new_generation(), timeout=0)
            state.missed_invalidation = False
        return operation(*args, **kwargs)
    except RedisError as error:
        take_down(current_app, error)
        return None


def take_down(app: Flask, error: RedisError) -> None:
    """Redis failed: the cache stays off in this process for CACHE_RETRY_SECONDS."""
    pause = app.config["CACHE_RETRY_SECONDS"]
    state_of(app).down_until = time.monotonic() + pause
    log.warning("the cache is off for %s s: Redis failed: %s", pause, error)


def is_available() -> bool:
    return time.monotonic() >= _state().down_until


def is_usable(app: Flask) -> bool:
    """Outside a request context: Redis backs the cache, answers, and missed no invalidation."""
    state = state_of(app)
    return time.monotonic() >= state.down_until and not state.missed_invalidation and _redis(app) is not None


# --- generations ----------------------------------------------------------------------------------


def _user_generation_key(user_id: int) -> str:
    return f"generation:user:{user_id}"


def _new_generation() -> int:
    """Later than any generation before it, even one evicted from Redis: a number never comes
    back, so entries stored under it can never be read again."""
    return time.time_ns()


def _generation(user_id: int) -> str | None:
    """The user's current generation (with the global epoch), or None when Redis is unavailable.
    Read once per request."""
    memo = g.setdefault("cache_generations", {})
    if user_id in memo:
        return memo[user_id]
    keys = (EPOCH_KEY, _user_generation_key(user_id))
    values = _call(cache.get_many, *keys)
    if values is None:
        return None
    if None in values:  # the first use, or evicted: whoever adds first sets it
        for key, value in zip(keys, values, strict=True):
            if value is None:
                _call(cache.add, key, _new_generation(), timeout=0)
        values = _call(cache.get_many, *keys)
        if values is None or None in values:
            return None
    memo[user_id] = "{}.{}".format(*values)
    return memo[user_id]


def _changes() -> _Changes:
    return db.session.info.setdefault(_CHANGED_USERS, _Changes())


def _record(user_ids: Iterable[int], change_event: str | None = None) -> None:
    changes = _changes()
    changes.user_ids.update(user_ids)
    if change_event:
        changes.events.add(change_event)


def _bump_after_commit(db_session: Session) -> None:
    changes = db_session.info.pop(_CHANGED_USERS, None)
    if not changes or not changes.user_ids or not has_app_context():
        return
    generation = _new_generation()
    bumped = {_user_generation_key(user_id): generation for user_id in changes.user_ids}
    if not _call(cache.set_many, bumped, timeout=0):
        _state().missed_invalidation = True
    if has_request_context():
        memo = g.get("cache_generations", {})
        for user_id in changes.user_ids:
            memo.pop(user_id, None)
        g.setdefault("cache_events", set()).update(changes.events)


def _forget_changes(db_session: Session) -> None:
    db_session.info.pop(_CHANGED_USERS, None)


# --- named invalidations: call them inside the transaction that makes the change -----------------


def tasks_changed(user_id: int) -> None:
    """A task of this user was added, changed, completed, moved, deleted or restored (or one of
    its reminders changed): their lists and dashboard show something else now."""
    _record((user_id,), TASKS_CHANGED_EVENT)


def projects_changed(user_id: int) -> None:
    """A project of this user was created, renamed, archived or deleted."""
    _record((user_id,), TASKS_CHANGED_EVENT)


def notifications_changed(user_ids: Iterable[int]) -> None:
    """Notifications of these users were added or read: the bell counts something else."""
    _record(user_ids, NOTIFICATIONS_CHANGED_EVENT)


def account_changed(user_id: int) -> None:
    """The user's row or sessions changed (profile, mail switches, log out, password, an admin
    deactivating them): every cached session of theirs is checked against the database again."""
    _record((user_id,))


# --- cached views -------------------------------------------------------------------------------


@dataclass
class StoredPage:
    fresh_until: float
    around_csrf_token: tuple[bytes, ...]  # the encoded page, cut where the CSRF token goes
    mimetype: str

    @property
    def fresh(self) -> bool:
        return self.fresh_until > time.time()

    @property
    def holds_csrf_token(self) -> bool:
        return len(self.around_csrf_token) > 1


def page_key(name: str, user_id: int | str, generation: str, *, fragment: bool, full_path: str) -> str:
    variant = "fragment" if fragment else "page"
    path = hashlib.sha256(full_path.encode()).hexdigest()[:32]
    return f"page:{name}:user:{user_id}:{generation}:{variant}:{path}"


def _page_key(name: str, user_id: int | str, generation: str) -> str:
    return page_key(name, user_id, generation, fragment=wants_fragment(), full_path=request.full_path)


def stats_key(name: str, outcome: str) -> str:
    return f"stats:{name}:{outcome}"


def _cacheable() -> bool:
    """GETs of a signed-in user with nothing shown once (a flash message) in their session."""
    return request.method == "GET" and current_user.is_authenticated and "_flashes" not in session


def _count(name: str, outcome: str) -> None:
    _call(lambda: cache.cache.inc(stats_key(name, outcome)))


def count_outcome(app: Flask, name: str, outcome: str) -> None:
    """`_count` outside a request context. Raises RedisError."""
    client, prefix = _redis(app)
    client.incr(prefix + stats_key(name, outcome))


def etag_for(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def cached_view(name: str, *, etag: bool = False) -> Callable:
    """Serve the view's 200 answers from the cache per user, page and fragment apart.

    `etag`: answer a browser that already has this generation of the page with 304 (for what
    polls, like the bell; not for pages whose text also depends on the clock)."""
    if name not in FRAGMENTS:
        raise ValueError(f"declare {name!r} in FRAGMENTS")

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def cached(*args, **kwargs):
            if not _cacheable():
                return view(*args, **kwargs)
            generation = _generation(current_user.id)
            if generation is None:
                return view(*args, **kwargs)
            key = _page_key(name, current_user.id, generation)
            if etag and request.if_none_match.contains_weak(etag_for(key)):
                if not g.pop("lookup_counted", False):
                    _count(name, "lookup")  # every request to a cached view is one lookup
                _count(name, "not_modified")
                return not_modified(etag_for(key))
            response = _serve(name, key, lambda: view(*args, **kwargs))
            if etag and response.status_code == 200:
                response.set_etag(etag_for(key), weak=True)
                response.headers["Cache-Control"] = REVALIDATE
            return response

        # Kept by login_required's functools.wraps: the lookups before the view need them.
        cached.cached_view_name = name
        cached.cached_view_etag = etag
        return cached

    return decorator


def _serve(name: str, key: str, render: Callable[[], Response]) -> Response:
    """The page from the cache, or rendered and stored. A miss costs two round trips besides the
    lookup: the lock taken and the page looked for again together, then the page stored, the miss
    counted and the lock released together."""
    prefetched_key, entry = g.pop("prefetched_page", (None, None))
    if prefetched_key != key:
        entry = _call(_look_up, name, key)
    if entry is not None and entry.fresh:
        return page_response(entry, generate_csrf)
    lock = f"lock:{key}"
    locked, stored = _call(_take_lock_and_look_again, lock, key) or (False, None)
    if locked and stored is not None and stored.fresh:  # rendered by a request after this one looked
        _call(cache.delete, lock)
        return page_response(stored, generate_csrf)
    if not locked and is_available():
        waited = entry or _wait_for(key)  # another request is rendering it
        if waited is not None:
            _count(name, "stale")
            return page_response(waited, generate_csrf)
    response = None
    try:
        response = render()
        return _private(response)
    finally:  # also when the view raised (a 404): the lock is released, the miss counted
        kept = response if response is not None and _storable(response) else None
        _call(_finish_miss, name, key, kept, lock if locked else None)


def _storable(response: Response) -> bool:
    return response.status_code == 200 and response.mimetype == "text/html"


def _take_lock_and_look_again(lock: str, key: str) -> tuple[bool, StoredPage | None]:
    """SET NX PX (one request renders; the lock expires by itself if that request dies) and the
    page, which a request that rendered it after this one looked may have stored meanwhile."""
    milliseconds = int(current_app.config["CACHE_LOCK_SECONDS"] * 1000)
    if (redis := _redis()) is None:
        return bool(cache.add(lock, 1, timeout=max(1, milliseconds // 1000))), cache.get(key)
    client, prefix = redis
    pipeline = client.pipeline(transaction=False)
    taken, stored = pipeline.set(prefix + lock, 1, nx=True, px=milliseconds).get(prefix + key).execute()
    return bool(taken), cache.cache.serializer.loads(stored) if stored is not None else None


def _finish_miss(name: str, key: str, response: Response | None, lock: str | None) -> None:
    """Count the miss, store the rendered page (if given) and release the lock (if taken)."""
    fresh_for = current_app.config["CACHE_FRAGMENT_SECONDS"]
    lifetime = fresh_for + current_app.config["CACHE_STALE_SECONDS"]
    entry = (
        StoredPage(time.time() + fresh_for, _around_csrf_token(response), response.mimetype)
        if response
        else None
    )
    if (redis := _redis()) is None:
        _count(name, "miss")
        if entry is not None:
            cache.set(key, entry, timeout=lifetime)
        if lock:
            cache.delete(lock)
        return
    client, prefix = redis
    pipeline = client.pipeline(transaction=False).incr(prefix + stats_key(name, "miss"))
    if entry is not None:
        pipeline.set(prefix + key, cache.cache.serializer.dumps(entry), ex=lifetime)
    if lock:
        pipeline.delete(prefix + lock)
    pipeline.execute()


def _redis(app: Flask | None = None) -> tuple[Any, str] | None:
    """Flask-Caching's own Redis client and key prefix, for what its API lacks (a pipeline, PX);
    None for the in-process cache of a run without Redis."""
    backend = _backend(app)
    client = getattr(backend, "_write_client", None)
    return (client, backend._get_prefix()) if client is not None else None


def _backend(app: Flask | None = None) -> Any:
    return app.extensions["cache"][cache] if app else cache.cache


def _look_up(name: str, key: str) -> StoredPage | None:
    """The stored page, and the lookup counted (unless the session's lookup counted it), in one
    round trip."""
    if g.pop("lookup_counted", False):
        return cache.get(key)
    if (redis := _redis()) is None:
        _count(name, "lookup")
        return cache.get(key)
    client, prefix = redis
    pipeline = client.pipeline(transaction=False)
    stored, _ = pipeline.get(prefix + key).incr(prefix + stats_key(name, "lookup")).execute()
    return cache.cache.serializer.loads(stored)


def _wait_for(key: str) -> StoredPage | None:
    """A page another request is rendering right now, if it arrives within CACHE_WAIT_SECONDS."""
    deadline = time.monotonic() + current_app.config["CACHE_WAIT_SECONDS"]
    while time.monotonic() < deadline:
        time.sleep(WAIT_STEP)
        entry = _call(cache.get, key)
        if entry is not None:
            return entry
    return None


def _around_csrf_token(response: Response) -> tuple[bytes, ...]:
    """The page cut where this request's CSRF token appears: each reader gets their own."""
    body = response.get_data()
    token = g.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    return tuple(body.split(token.encode())) if token else (body,)


def page_body(page: StoredPage, csrf_token: Callable[[], str]) -> bytes:
    """The stored page, with this browser's CSRF token put back."""
    parts = page.around_csrf_token
    return csrf_token().encode().join(parts) if page.holds_csrf_token else parts[0]


def page_response(page: StoredPage, csrf_token: Callable[[], str]) -> Response:
    return _private(Response(page_body(page, csrf_token), mimetype=page.mimetype))


def not_modified(tag: str) -> Response:
    response = _private(Response(status=304), cache_control=REVALIDATE)
    response.set_etag(tag, weak=True)
    return response


def _private(response: Response, cache_control: str = PRIVATE) -> Response:
    """What a page from the cache answers with: it varies with the cookie (the user) and htmx."""
    response.headers["Cache-Control"] = cache_control
    response.vary.update(CACHED_PAGE_VARY)
    return response


def _finish_response(response: Response) -> Response:
    """Answers for a signed-in user, or showing what a session holds (a message), are private;
    others may be kept by a shared cache. htmx hears which data changed, so other parts follow."""
    personal = current_user.is_authenticated or bool(session)
    if personal and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = PRIVATE
    events = g.pop("cache_events", None)
    if events and wants_fragment():
        add_triggers(response, *sorted(events))
    return response


# --- signed-in sessions -------------------------------------------------------------------------


def _session_key(token_hash: str) -> str:
    return f"session:{token_hash}"


def _session_user_key(token_hash: str) -> str:
    return f"session-user:{token_hash}"


@dataclass
class CachedSession:
    data: dict
    user_id: int
    valid: bool  # stored under the user's current generation: nothing changed since
    generation: str | None  # the user's generation, read before the caller looks at the database


def cached_session(token_hash: str) -> CachedSession | None:
    """What `keep_session` stored for this session, or None when nothing is cached."""
    stored = _call(_prefetch, token_hash) if _redis() else _call(cache.get, _session_key(token_hash))
    if stored is None:
        return None
    generation = _generation(stored["user_id"])
    valid = generation is not None and stored["generation"] == generation
    return CachedSession(stored["data"], stored["user_id"], valid, generation)


@dataclass
class SessionAndPage:
    user_id: int
    session: dict | None  # what keep_session stored; None when it is gone
    generation: str | None  # the user's current one; None when Redis lost it
    page_key: str | None  # the key of the page asked for, under that generation
    page: StoredPage | None  # the page stored there
    lookup_counted: bool  # in the page's statistics
    reads: ReadsCounted | None = None  # this read, counted against the user's rate limit

    @property
    def session_current(self) -> bool:
        """Stored under the user's current generation: nothing changed since."""
        return (
            self.generation is not None
            and self.session is not None
            and self.session["generation"] == self.generation
        )


def session_and_page(
    app: Flask,
    token_hash: str,
    view_name: str | None,
    *,
    fragment: bool,
    full_path: str,
    read_counter: ReadCounter | None = None,
) -> SessionAndPage | None:
    """The stored session, its user's generation and (for a cached view) the page, the lookup
    counted, with `read_counter` the read counted against the user's rate limit, and the user
    counted among today's active users (once a day per process); None when Redis knows nothing
    of the session. Raises RedisError.

    One round trip (an MGET and the counts) once this process knows the session's user and the
    generation it last saw: the page is read under that generation, and used only if it is still
    the current one; otherwise a second read gets it. Not a script: Redis copies a page through
    Lua about 40 times slower than it returns it from MGET."""
    client, prefix = _redis(app)
    state = state_of(app)
    user_id = state.user_of_session.get(token_hash)
    if user_id is None:
        if (found_user := client.get(prefix + _session_user_key(token_hash))) is None:
            return None
        user_id = _remember(state.user_of_session, token_hash, int(found_user))

    def key_under(generation: str) -> str:
        return page_key(view_name, user_id, generation, fragment=fragment, full_path=full_path)

    guessed = state.generation_seen.get(user_id)
    keys = [prefix + EPOCH_KEY, prefix + _user_generation_key(user_id), prefix + _session_key(token_hash)]
    if view_name and guessed:
        keys.append(prefix + key_under(guessed))
    pipeline = client.pipeline(transaction=False).mget(keys)
    if view_name:
        pipeline.incr(prefix + stats_key(view_name, "lookup"))
    if counting_active_on := _day_to_count_active(state, user_id):
        stats.count_active(pipeline, user_id, counting_active_on)
    if read_counter:
        counter_key = read_counter.key(user_id)
        pipeline.incr(counter_key).expire(counter_key, read_counter.window_seconds, nx=True).ttl(counter_key)
    replies = pipeline.execute()
    if counting_active_on:
        _remember(state.active_counted, user_id, counting_active_on)
    epoch, generation, stored, *under_guess = replies[0]
    current = key = page = None
    if epoch is not None and generation is not None:
        current = _remember(state.generation_seen, user_id, f"{int(epoch)}.{int(generation)}")
        if view_name:
            key = key_under(current)
            page = under_guess[0] if current == guessed else client.get(prefix + key)
    loads = _backend(app).serializer.loads
    return SessionAndPage(
        user_id,
        loads(stored) if stored is not None else None,
        current,
        key,
        loads(page) if page is not None else None,
        lookup_counted=bool(view_name),
        reads=ReadsCounted(replies[-3], read_counter.allowed, time.time() + max(replies[-1], 0))
        if read_counter
        else None,
    )


def _day_to_count_active(state: _State, user_id: int) -> date | None:
    """Today, unless this process counted the user active today already."""
    today = datetime.now(UTC).date()
    return today if state.active_counted.get(user_id) != today else None


def _count_active(user_id: int) -> None:
    state = _state()
    if (day := _day_to_count_active(state, user_id)) and (found := _redis()):
        pipeline = found[0].pipeline(transaction=False)
        stats.count_active(pipeline, user_id, day)
        pipeline.execute()
        _remember(state.active_counted, user_id, day)


def _remember(memo: dict, key: Any, value: Any) -> Any:
    """Keep `value` in a per-process memo, which starts afresh when it holds MEMO_SIZE entries."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    memo[key] = value
    return value


def _prefetch(token_hash: str) -> dict | None:
    """The stored session, with the user's generation and the requested page kept for the
    request (g): one round trip instead of three, none when `cache_hits` made it already."""
    looked_up_for, found = request.environ.get(LOOKED_UP_ENVIRON_KEY, (None, None))
    if looked_up_for != token_hash:
        name = _cached_view_name()
        found = session_and_page(
            current_app, token_hash, name, fragment=wants_fragment(), full_path=request.full_path
        )
    if found is None:
        return None
    g.lookup_counted = found.lookup_counted
    if found.generation is not None:
        g.setdefault("cache_generations", {})[found.user_id] = found.generation
        if found.page_key:
            g.prefetched_page = (found.page_key, found.page)
    return found.session


def _cached_view_name() -> str | None:
    """The cached view this request is for, when its answer may come from the cache."""
    if request.method != "GET" or "_flashes" in session:
        return None
    view = current_app.view_functions.get(request.endpoint)
    return getattr(view, "cached_view_name", None)


def keep_session(token_hash: str, user_id: int, data: dict, generation: str | None) -> None:
    """Remember a session the database just confirmed, under the generation read *before* the
    database was asked (from `cached_session`), so a revocation committed meanwhile still shows.
    Without one (nothing was cached), it is kept unconfirmed: the next request checks again."""
    stored = {"data": data, "user_id": user_id, "generation": generation}
    kept = {_session_key(token_hash): stored, _session_user_key(token_hash): user_id}
    _call(cache.set_many, kept, timeout=current_app.config["SESSION_CACHE_SECONDS"])
    _call(_count_active, user_id)


# --- what the admin dashboard shows ---------------------------------------------------------------


def cache_stats() -> dict[str, dict[str, int]]:
    """Hits, stale answers, misses and 304s per cached view, since Redis last lost its data."""
    keys = [stats_key(name, counted) for name in FRAGMENTS for counted in COUNTED]
    values = iter(int(value or 0) for value in _call(cache.get_many, *keys) or [None] * len(keys))
    stats = {}
    for name in FRAGMENTS:
        counts = {counted: next(values) for counted in COUNTED}
        hits = counts.pop("lookup") - counts["stale"] - counts["miss"] - counts["not_modified"]
        stats[name] = {"hit": max(hits, 0), **counts}  # a miss while Redis was away had no lookup
    return stats
