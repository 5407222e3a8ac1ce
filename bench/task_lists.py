"""How fast is page 1,000 of a task list? Keyset pagination against OFFSET, measured in one run.

    python -m bench.task_lists            # 60,000 tasks for one user (+ 3 neighbours), page 1,000
    python -m bench.task_lists --quick    # 12,000 tasks, page 200: under a minute
    python -m bench.task_lists --database-url postgresql://postgres@127.0.0.1/bench

Seeds a fresh database through the real migrations, then for each sort order times the app's own
`task_page()` on page 1 and on page K (following the real cursors), and the same ordered query
with OFFSET at the same depth as the baseline. Prints medians and ratios; writes
bench/results/task_lists.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import fresh_instance, migrated_app, progress

RESULTS = Path(__file__).parent / "results" / "task_lists.json"
PAGE_SIZE = 50
WORDS = [
    "plan",
    "write",
    "call",
    "buy",
    "fix",
    "review",
    "send",
    "book",
    "clean",
    "pay",
    "read",
    "draft",
    "check",
    "order",
    "water",
    "renew",
]


def _seed(owner_counts: list[int]) -> list[int]:
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import Task, User
    from webapp.projects.services import ensure_inbox

    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    user_ids = []
    for number, count in enumerate(owner_counts):
        user = User(email=f"bench{number}@example.com", password_hash="-", display_name=f"Bench {number}")
        db.session.add(user)
        db.session.flush()
        inbox = ensure_inbox(user)
        user_ids.append(user.id)
        chunk = 2_000
        for first in range(0, count, chunk):
            rows = []
            for n in range(first, min(first + chunk, count)):
                rows.append(
                    {
                        "owner_id": user.id,
                        "project_id": inbox.id,
                        "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} #{n}",
                        "notes": "",
                        "status": rng.choice(("todo", "todo", "in_progress", "done")),
                        "priority": rng.randrange(4),
                        "due_at": None
                        if rng.random() < 0.1
                        else start + timedelta(minutes=rng.randrange(525_600)),
                        "due_all_day": False,
                        "created_at": start + timedelta(seconds=n * 7),
                        "updated_at": start,
                    }
                )
            db.session.execute(insert(Task), rows)
            progress(f"tasks of user {number + 1}", min(first + chunk, count), count)
        db.session.commit()
    return user_ids


def _median_ms(action, repeats: int) -> float:
    action()  # warm the caches once
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _measure_sort(user, sort: str, depth_page: int, repeats: int) -> dict:
    from webapp.extensions import db
    from webapp.tasks.queries import TaskFilters, page_queries, task_page, with_row_details

    filters = TaskFilters(sort=sort)
    cursor = None
    for page_number in range(1, depth_page):
        cursor = task_page(user, filters, cursor, page_size=PAGE_SIZE).next_cursor
        db.session.expunge_all()
        if page_number % 50 == 0 or page_number == depth_page - 1:
            progress(f"walk to page {depth_page} ({sort})", page_number, depth_page - 1)
    ordered = with_row_details(page_queries(user, filters, None)[0])
    offset_query = ordered.offset((depth_page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    first_page_query = ordered.limit(PAGE_SIZE)

    def run(query):
        return lambda: (db.session.scalars(query).all(), db.session.expunge_all())

    return {
        "keyset_page_1_ms": _median_ms(lambda: task_page(user, filters, None, page_size=PAGE_SIZE), repeats),
        "keyset_page_k_ms": _median_ms(
            lambda: task_page(user, filters, cursor, page_size=PAGE_SIZE), repeats
        ),
        "offset_page_1_ms": _median_ms(run(first_page_query), repeats),
        "offset_page_k_ms": _median_ms(run(offset_query), repeats),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12,000 tasks, page 200")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    tasks, depth = (12_000, 200) if args.quick else (60_000, 1_000)

    instance = fresh_instance()
    from sqlalchemy import text

    from webapp.extensions import db

    app = migrated_app(instance, args.database_url)
    with app.app_context():
        print(f"seeding {tasks:,} tasks for the measured user and {3 * tasks // 4:,} for three neighbours")
        user_ids = _seed([tasks, tasks // 4, tasks // 4, tasks // 4])
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("ANALYZE"))
        from webapp.models import User

        user = db.session.get(User, user_ids[0])
        results = {}
        for sort in ("due", "priority", "created"):
            figures = _measure_sort(user, sort, depth, args.repeats)
            figures["keyset_ratio"] = figures["keyset_page_k_ms"] / figures["keyset_page_1_ms"]
            figures["offset_ratio"] = figures["offset_page_k_ms"] / figures["offset_page_1_ms"]
            results[sort] = figures
        dialect = db.engine.dialect.name

    print(
        f"\n{dialect}, {tasks:,} tasks, page size {PAGE_SIZE}, page {depth:,}; medians of {args.repeats} runs"
    )
    print(
        f"{'sort':<10}"
        + "".join(f"{h:>11}" for h in ("keyset p1", "keyset pK", "ratio", "OFFSET p1", "OFFSET pK", "ratio"))
    )
    for sort, f in results.items():
        print(
            f"{sort:<10}{f['keyset_page_1_ms']:>9.2f}ms{f['keyset_page_k_ms']:>9.2f}ms{f['keyset_ratio']:>10.1f}x"
            f"{f['offset_page_1_ms']:>9.2f}ms{f['offset_page_k_ms']:>9.2f}ms{f['offset_ratio']:>10.1f}x"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"database": dialect, "tasks": tasks, "page": depth, "page_size": PAGE_SIZE, "sorts": results},
            indent=2,
        )
    )
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
