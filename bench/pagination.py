"""Is a page deep in a long task list as fast as the first? Keyset pagination against OFFSET, on
SQLite and PostgreSQL, measured in one run.

    python -m bench.pagination                # 150,000 tasks for one user (+ 3 neighbours), row 100,000
    python -m bench.pagination --quick        # 25,000 tasks, row 20,000: under a minute
    python -m bench.pagination --postgresql-url postgresql://postgres@127.0.0.1:5432/bench_lean

The PostgreSQL database given is emptied (its public schema dropped) first: give it one of its
own. Without --postgresql-url only SQLite is measured. For each database: seeds a fresh database
through the real migrations, then for each sort order times the app's own `task_page()` for the
first page and for the page that starts `depth` rows down (its cursor made from the row there),
and the same ordered query with OFFSET at the same depth as the baseline. Prints medians and
ratios; writes bench/results/pagination.json (`deep_over_first.<database>` is the worst sort's
keyset ratio).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import code_version, fresh_instance, migrated_app
from bench.seeding import analyze, seed_crowd, seed_user_with_tasks

RESULTS = Path(__file__).parent / "results" / "pagination.json"
PAGE_SIZE = 50
SORTS = ("due", "priority", "created")


@dataclass(frozen=True)
class Size:
    user_tasks: int
    depth: int

    @property
    def neighbour_tasks(self) -> int:
        return self.user_tasks // 4


FULL = Size(user_tasks=150_000, depth=100_000)
QUICK = Size(user_tasks=25_000, depth=20_000)


def _median_ms(action, repeats: int) -> float:
    action()  # warm the caches once
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _measure_sort(user, sort: str, depth: int, repeats: int) -> dict[str, float]:
    from webapp.tasks.queries import (
        TaskFilters,
        cursor_after,
        encode_cursor,
        page_queries,
        task_page,
        task_rows,
    )

    filters = TaskFilters(sort=sort)
    ordered = page_queries(user, filters, None)[0]  # for "due": the tasks with a due date
    [row_above] = task_rows(ordered.offset(depth - 1).limit(1))
    cursor = encode_cursor(cursor_after(row_above, sort))

    def keyset(after: str | None):
        return lambda: task_page(user, filters, after, page_size=PAGE_SIZE)

    def offset(rows: int):
        query = ordered.offset(rows).limit(PAGE_SIZE)
        return lambda: task_rows(query)

    figures = {
        "keyset_first_ms": _median_ms(keyset(None), repeats),
        "keyset_deep_ms": _median_ms(keyset(cursor), repeats),
        "offset_first_ms": _median_ms(offset(0), repeats),
        "offset_deep_ms": _median_ms(offset(depth), repeats),
    }
    figures["keyset_deep_over_first"] = figures["keyset_deep_ms"] / figures["keyset_first_ms"]
    figures["offset_deep_over_first"] = figures["offset_deep_ms"] / figures["offset_first_ms"]
    return figures


def measure(database_url: str | None, size: Size, repeats: int) -> tuple[str, dict]:
    """Seed one database and measure every sort on it; returns its dialect and the figures."""
    from webapp.extensions import db
    from webapp.models import User

    instance = fresh_instance()
    app = migrated_app(instance, database_url)
    with app.app_context():
        dialect = db.engine.dialect.name
        print(
            f"{dialect}: seeding {size.user_tasks:,} tasks for the measured user,"
            f" {size.neighbour_tasks:,} each for 3 others"
        )
        rng = random.Random(7)
        user = seed_user_with_tasks(size.user_tasks, rng)
        seed_crowd(3, size.neighbour_tasks, rng)
        analyze()
        user = db.session.get(User, user.id)
        sorts = {sort: _measure_sort(user, sort, size.depth, repeats) for sort in SORTS}
        db.session.remove()
        db.engine.dispose()
    shutil.rmtree(instance, ignore_errors=True)
    return dialect, sorts


def print_figures(dialect: str, sorts: dict, size: Size, repeats: int) -> None:
    print(f"\n{dialect}: first page and the page {size.depth:,} rows down; medians of {repeats} runs")
    headers = ("keyset 1st", "keyset deep", "ratio", "OFFSET 1st", "OFFSET deep", "ratio")
    print(f"  {'sort':<10}" + "".join(f"{header:>12}" for header in headers))
    for sort, f in sorts.items():
        print(
            f"  {sort:<10}{f['keyset_first_ms']:>10.2f}ms{f['keyset_deep_ms']:>10.2f}ms"
            f"{f['keyset_deep_over_first']:>11.2f}x{f['offset_first_ms']:>10.2f}ms"
            f"{f['offset_deep_ms']:>10.2f}ms{f['offset_deep_over_first']:>11.1f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="25,000 tasks, row 20,000: under a minute")
    parser.add_argument("--postgresql-url", help="a PostgreSQL database of its own (emptied first)")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    size = QUICK if args.quick else FULL

    databases: dict[str, dict | None] = {"sqlite": None, "postgresql": None}
    for url in (None, args.postgresql_url) if args.postgresql_url else (None,):
        dialect, sorts = measure(url, size, args.repeats)
        print_figures(dialect, sorts, size, args.repeats)
        databases[dialect] = sorts
    deep_over_first = {
        dialect: max(f["keyset_deep_over_first"] for f in sorts.values()) if sorts else None
        for dialect, sorts in databases.items()
    }
    print(
        "\ndeep page ÷ first page (keyset, worst sort): "
        + ", ".join(
            f"{dialect} {'not measured' if ratio is None else f'{ratio:.2f}'}"
            for dialect, ratio in deep_over_first.items()
        )
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "code_version": code_version(),
                "quick": args.quick,
                "tasks_of_measured_user": size.user_tasks,
                "depth_rows": size.depth,
                "page_size": PAGE_SIZE,
                "repeats": args.repeats,
                "deep_over_first": deep_over_first,
                "databases": databases,
            },
            indent=2,
        )
    )
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
