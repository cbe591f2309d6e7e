"""bench_web's query stage: every combination of the log's filters as the log runs it (plan, first page, count
capped at 1000), the worst of them with their query plans, the issue's three worst filters, deep keyset pages, and
the reports' counts up to a year, the first read and then kept."""

from __future__ import annotations

import itertools
import re
import statistics
import time
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import Session
from web_dataset import FIRST_DAY, LAST_DAY
from web_timing import TARGET_MS, timed

from checkpoint.counts import CountsCache, daily_counts, days_of, gates_of
from checkpoint.db import open_database
from web.filters import EntryFilter, count, count_statement, page, page_statements, plan
from web.reports import bucket_kind, buckets


def explain(session, statement) -> list[str]:
    """The database's plan of a statement: EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE (PostgreSQL)."""
    bind = session.get_bind()
    sql = str(statement.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    if bind.dialect.name == "sqlite":
        return [row[-1] for row in session.exec(text("EXPLAIN QUERY PLAN " + sql))]
    lines = [row[0] for row in session.exec(text("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, SUMMARY OFF) " + sql))]
    keep = ("Scan", "Index Cond", "Filter", "Sort", "Limit", "Aggregate", "Heap Fetches", "Rows Removed")
    ids = re.compile(r"'\{[\d,]+\}'")  # the ids a plan lists for the overrides: their number only
    return [ids.sub(lambda m: f"'{{{m.group().count(',') + 1} ids}}'", line.strip())[:400]
            for line in lines if any(k in line for k in keep)][:12]


def show_plan(session, flt: EntryFilter, indent: str = "      ") -> None:
    p = plan(session, flt)
    print(f"{indent}plan: {p.describe()}")
    for source, statement in page_statements(p, None, 50):
        for line in explain(session, statement):
            print(f"{indent}  page/{source}: {line}")
    for line in explain(session, count_statement(p, 1000)):
        print(f"{indent}  count: {line}")


def log_query(session, flt: EntryFilter) -> tuple[int, int]:
    """What the log page runs: the plan, the first page of 50, the count capped at 1000."""
    p = plan(session, flt)
    rows, _ = page(session, flt, None, 50, p)
    return len(rows), count(session, flt, 1000, p)


def label(flt: EntryFilter) -> str:
    args = flt.query_args()
    dates = f"{args.pop('from')}..{args.pop('to')}"
    return f"{dates} " + " ".join(f"{k}={v}" for k, v in args.items())


def grid(full: bool) -> list[EntryFilter]:
    day, month_ago = LAST_DAY.isoformat(), (LAST_DAY - timedelta(days=29)).isoformat()
    ranges = [(day, day), (month_ago, day), (FIRST_DAY.isoformat(), day), ("2000-01-01", "2099-12-31")]
    gates = [None, "gate-2"]
    outcomes = [None, "allowed", "denied", "remeasure"]
    reasons = [(None, None), ("fever", None), ("no_face", None), ("camera_fault", None), (None, "fever")]
    temps = [(None, None), (38.5, None), (37.0, 37.0), (36.0, 37.0), (None, 35.0)]
    sorts = ["newest", "oldest", "hottest", "coolest"]
    result = []
    for (a, b), g, o, (r, pr), (lo, hi), s in itertools.product(ranges, gates, outcomes, reasons, temps, sorts):
        if not full and (g or s in ("oldest", "coolest")):
            continue
        result.append(EntryFilter(a, b, gate=g, outcome=o, reason=r, primary=pr, tmin=lo, tmax=hi, sort=s))
    return result


WIDEST = ("2000-01-01", "2099-12-31")
NAMED = {  # the slowest three, over the widest date range
    "rare reason, high minimum temperature": EntryFilter(*WIDEST, reason="no_face", tmin=38.5),
    "denied, hottest first": EntryFilter(*WIDEST, outcome="denied", sort="hottest"),
    "narrow temperature band (37.0-37.0)": EntryFilter(*WIDEST, tmin=37.0, tmax=37.0),
}


def query_bench(url: str, full_grid: bool, show: int = 6, repeat: int = 5) -> dict:
    """Every filter combination, the worst with plans, the named worst, deep pages, the reports' counts."""
    engine = open_database(url)
    figures: dict = {}
    day, month_ago, year_ago = LAST_DAY.isoformat(), (LAST_DAY - timedelta(days=29)).isoformat(), FIRST_DAY.isoformat()
    try:
        with Session(engine) as session:
            print(f"\n  {'query':<62} {'median ms':>9} {'max ms':>7}  ok")

            def row(name: str, median: float, worst: float, target: float = TARGET_MS) -> None:
                figures[name] = median
                print(f"  {name:<62} {median:>9.1f} {worst:>7.1f}  {'yes' if median <= target else 'NO'}")

            row("daily_counts, today, all gates (the screen)", *timed(lambda: daily_counts(session, day)))
            filters = grid(full_grid)
            started = time.perf_counter()
            results = []
            for flt in filters:
                t0 = time.perf_counter()
                found, n = log_query(session, flt)
                results.append(((time.perf_counter() - t0) * 1000, flt, found, n))
            took = time.perf_counter() - started
            times = sorted(r[0] for r in results)
            over = sum(1 for t in times if t > TARGET_MS)
            figures["grid"] = {"combinations": len(times), "median": statistics.median(times),
                               "p99": times[int(len(times) * 0.99) - 1], "max": times[-1], "over": over}
            print(f"\n  every combination of the log's filters: {len(times)} (plan + first page of 50 + count to "
                  f"1000) in {took:.0f} s")
            print(f"    median {statistics.median(times):.1f} ms, p99 {figures['grid']['p99']:.1f} ms, "
                  f"max {times[-1]:.1f} ms; over {TARGET_MS:.0f} ms: {over}")
            print(f"    the {show} slowest, timed again (median of {repeat}), with their plans:")
            worst = sorted(results, key=lambda r: -r[0])[:show]
            for _, flt, found, n in worst:
                median, top = timed(lambda flt=flt: log_query(session, flt), repeat)
                print(f"    {median:7.1f} ms (max {top:.1f})  {label(flt)}  [{found} rows, count {n}]")
                show_plan(session, flt)
            print("\n  the issue's slowest filters (2.3 s before), over 2000-01-01..2099-12-31:")
            for name, flt in NAMED.items():
                median, top = timed(lambda flt=flt: log_query(session, flt), repeat)
                figures[f"named: {name}"] = median
                print(f"    {median:7.1f} ms (max {top:.1f})  {name}: {label(flt)}")
                show_plan(session, flt)
            year = EntryFilter(year_ago, day)
            after = None
            for _ in range(101):  # deep keyset pages
                rows, after = page(session, year, after, 50)
            print()
            row("log page 102 (keyset), a year, newest", *timed(lambda: page(session, year, after, 50)))
            hottest = EntryFilter(year_ago, day, sort="hottest")
            after_hot = None
            for _ in range(101):
                rows, after_hot = page(session, hottest, after_hot, 50)
            row("log page 102 (keyset), a year, hottest", *timed(lambda: page(session, hottest, after_hot, 50)))
            row("count, a year, exact (not on any page: the log caps at 1000)",
                *timed(lambda: count(session, year), repeat=3), target=10_000)
            print()
            cache = CountsCache()
            started = time.perf_counter()
            cache.table(session, year_ago, day)
            first_read = (time.perf_counter() - started) * 1000
            figures["report counts: first read"] = first_read
            print(f"  {'report counts: first read of the whole log (once per app)':<62} {first_read:>9.1f}")
            quarter = (LAST_DAY - timedelta(days=90)).isoformat()
            for name, first in (("30 days", month_ago), ("a quarter (weekly)", quarter),
                                ("a year (monthly)", year_ago)):
                def report(first=first):
                    table = cache.table(session, first, day)
                    buckets(days_of(table, first, day), bucket_kind(first, day))
                    gates_of(table)
                row(f"report counts, {name}, kept", *timed(report))
    finally:
        engine.dispose()
    return figures
