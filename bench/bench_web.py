"""Web app benchmark: the visitor log, reports and CSV export at a year of a busy building, on SQLite and
PostgreSQL; 50 live event-stream clients.

    .venv/bin/python bench/bench_web.py [--rows 1000000] [--central-rows 10000000] [--pg URL] [--grid full|quick]
                                        [--clients 50] [--seconds 20] [--dir /tmp/checkpoint_bench] [--no-sse]

1. Builds (once, reused afterwards) a log of ``--rows`` entries over a year (2025-11-01 to 2026-10-31), two
   gates, opening hours 07-16, 8 % denied, 2 % re-measure, with 0.2 % of the entries overridden and exits for a
   tenth of them: a SQLite file, and a PostgreSQL database ``checkpoint_bench_<rows>`` on the server of ``--pg``
   (the tests' server by default; skipped when none answers). ``--central-rows`` adds the central case on
   PostgreSQL (10 M: several minutes to build; 0 skips it; its grid is the quick one and its CSV a month).
2. On each database: every combination of the log's filters (dates from one day to 2000-2099, gate, final
   outcome, reason or primary reason, temperature range, sort) as the log runs it (plan, first page, count capped
   at 1000), the worst of them with their query plans (EXPLAIN QUERY PLAN, EXPLAIN ANALYZE), the issue's three
   worst filters, deep keyset pages, and the reports' counts up to a year, the first read and then kept.
3. Through the real app on a real socket, signed in at /login with the CSRF token (and by basic auth for the
   API): log pages, reports of 30 days, a quarter and a year, and the CSV of the year (MB/s and the server's
   memory while it streams).
4. Serves a small SQLite log with werkzeug's threaded server, opens ``--clients`` event streams, writes entries at
   10 per second through the Recorder, and measures delivery latency from commit to each client.

Target: every query and page at most 200 ms, the CSV at least 10 MB/s.
"""
from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from web_dataset import FIRST_DAY, LAST_DAY, PG_ADMIN, build_postgres, build_sqlite  # noqa: E402
from web_http import http_bench, sse_bench  # noqa: E402
from web_queries import query_bench  # noqa: E402

from checkpoint.db import open_database  # noqa: E402
from checkpoint.models import Entry, Exit, Override  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--central-rows", type=int, default=0,
                        help="also the central case on PostgreSQL (10000000: several minutes to build; 0: skip)")
    parser.add_argument("--central-build-s", type=float, default=900, help="give up building the central case after")
    parser.add_argument("--pg", default=PG_ADMIN, help="a PostgreSQL URL to create the bench databases from")
    parser.add_argument("--grid", choices=("full", "quick"), default="full")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=10.0, help="entries per second during the stream test")
    parser.add_argument("--dir", default="/tmp/checkpoint_bench")
    parser.add_argument("--no-sse", action="store_true", help="skip the event-stream stage")
    args = parser.parse_args()
    data_dir = Path(args.dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    year = (FIRST_DAY.isoformat(), LAST_DAY.isoformat())
    databases = []
    url = f"sqlite:///{data_dir / f'log_v2_{args.rows}.db'}"
    built = build_sqlite(url, args.rows)
    databases.append(("SQLite", url, built, year))
    try:
        pg_url, built = build_postgres(args.pg, args.rows, deadline_s=3600)
        databases.append(("PostgreSQL", pg_url, built, year))
    except Exception as exc:  # no server: say so and go on
        print(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc)[:120]}")
    if args.central_rows:
        try:
            pg_url, built = build_postgres(args.pg, args.central_rows, deadline_s=args.central_build_s)
            month = ((LAST_DAY - timedelta(days=29)).isoformat(), LAST_DAY.isoformat())
            databases.append(("PostgreSQL, central", pg_url, built, month))  # the quick grid (newest, hottest)
        except Exception as exc:
            print(f"central case ({args.central_rows:,} entries) skipped: {type(exc).__name__}: {str(exc)[:160]}")
    summary = {}
    for name, url, built, csv_range in databases:
        engine = open_database(url)
        with Session(engine) as session:
            rows = session.exec(select(func.count()).select_from(Entry)).one()
            overrides = session.exec(select(func.count()).select_from(Override)).one()
            exits = session.exec(select(func.count()).select_from(Exit)).one()
        engine.dispose()
        print(f"\n=== {name}: {url.split('@')[-1]} ({rows:,} entries, {overrides:,} overrides, {exits:,} exits"
              f"{f', built in {built:.0f} s' if built else ', reused'})")
        central = "central" in name  # the quick grid, three timings
        figures = query_bench(url, args.grid == "full" and not central, repeat=3 if central else 5)
        figures.update(http_bench(url, data_dir, csv_range))
        summary[name] = figures
    print("\n=== summary (median ms; target 200 ms, CSV 10 MB/s)")
    for name, figures in summary.items():
        g = figures["grid"]
        print(f"  {name}: {g['combinations']} filter combinations median {g['median']:.1f}, p99 {g['p99']:.1f}, "
              f"max {g['max']:.1f} ({g['over']} over); "
              + "; ".join(f"{k.split(': ', 1)[-1]} {v:.1f}" for k, v in figures.items() if k.startswith("named"))
              + f"; report a year {figures.get('/reports a year (by month)', 0):.1f} (first after start "
              f"{figures.get('HTTP /reports a year, first after start', 0):.0f}); CSV {figures['csv_mb_s']:.1f} MB/s")
    if not args.no_sse:
        sse = sse_bench(data_dir, args.clients, args.seconds, args.rate)
        print(f"\nevent streams: {sse['clients']} clients, {sse['entries']} entries at {args.rate:g}/s through the "
              f"Recorder")
        print(f"{'delivered':<20} {sse['delivered']} of {sse['expected']}")
        for key in ("p50_ms", "p99_ms", "max_ms"):
            value = sse[key]
            print(f"{'commit->client ' + key[:-3]:<20} {value:.0f} ms" if value is not None else f"{key}: -")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
