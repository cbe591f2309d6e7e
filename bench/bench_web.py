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
import base64
import http.client
import http.cookiejar
import itertools
import json
import logging
import random
import re
import statistics
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, text
from sqlmodel import Session, select
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkpoint.config import Settings  # noqa: E402
from checkpoint.counts import CountsCache, daily_counts, days_of, gates_of  # noqa: E402
from checkpoint.db import open_database  # noqa: E402
from checkpoint.models import Entry, Exit, Override, new_uid  # noqa: E402
from checkpoint.recorder import Recorder  # noqa: E402
from web import close_app, create_app  # noqa: E402
from web.filters import EntryFilter, count, count_statement, page, page_statements, plan  # noqa: E402
from web.reports import buckets, bucket_kind  # noqa: E402

ZONE = ZoneInfo("Asia/Jakarta")
LAST_DAY = date(2026, 10, 31)
FIRST_DAY = LAST_DAY - timedelta(days=364)
REASONS = [("fever", 0.3), ("no_mask", 0.35), ("mask_incorrect", 0.15), ("fever_retest", 0.1), ("no_face", 0.1)]
TARGET_MS, TARGET_MB_S = 200.0, 10.0
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = ("uid", "gate_id", "decided_at", "local_date", "local_hour", "outcome", "flagged", "reasons",
           "primary_reason", "body_c", "object_c", "ambient_c", "calibration", "offset_c", "sensor_id", "readings",
           "mask_class", "mask_confidence", "face_seen", "rules")


# -- the log ----------------------------------------------------------------------------------------------------

def entries(rows: int, start: int = 0):
    """The entries ``start`` to ``rows`` of a year's log, as tuples of COLUMNS (the same for any database)."""
    rng = random.Random(7 + start)
    first = datetime.combine(FIRST_DAY, datetime.min.time(), ZONE)
    span_s = 365 * 86400
    for i in range(start, rows):
        local = first + timedelta(seconds=span_s * i / rows + rng.random())
        local = local.replace(hour=7 + local.hour % 10)  # opening hours 07-16
        roll = rng.random()
        if roll < 0.08:
            outcome = "denied"
            reasons = rng.choices([r for r, _ in REASONS], [w for _, w in REASONS])[0]
            if rng.random() < 0.2:
                reasons += ",no_mask" if reasons.startswith("fever") else ",fever"
        elif roll < 0.1:
            outcome, reasons = "remeasure", "implausible_temperature"
        else:
            outcome, reasons = "allowed", ""
        body = None if outcome == "remeasure" else round(rng.gauss(36.6, 0.45), 1)
        yield (new_uid(), "gate-1" if i % 3 else "gate-2", local.astimezone(timezone.utc), local.date().isoformat(),
               local.hour, outcome, False, reasons, reasons.split(",")[0], body, body, 27.0, "offset", 0.4, "scanner",
               1, "mask" if "mask" not in reasons else "no_mask", 0.9, True, "{}")


def overrides_and_exits(engine, rows: int) -> None:
    """0.2 % of the entries overridden (a tenth of them twice), and exits for a ninth of the allowed entries."""
    rng = random.Random(11)
    with Session(engine) as session:
        connection = session.connection()
        top = connection.execute(select(func.max(Entry.id))).scalar() or 0
        picked = sorted(rng.sample(range(1, top + 1), max(rows // 500, 1)))
        overrides = []
        for start in range(0, len(picked), 5000):
            found = connection.execute(select(Entry.uid, Entry.gate_id, Entry.decided_at, Entry.outcome)
                                       .where(Entry.id.in_(picked[start:start + 5000]))).all()
            for n, (uid, gate, at, outcome) in enumerate(found):
                to = {"allowed": "denied", "denied": "allowed", "remeasure": "allowed"}[outcome]
                overrides.append(dict(uid=new_uid(), entry_uid=uid, gate_id=gate, at=at + timedelta(minutes=2),
                                      by_user="guard", outcome=to, reason="re-checked"))
                if n % 10 == 0:
                    overrides.append(dict(uid=new_uid(), entry_uid=uid, gate_id=gate, at=at + timedelta(minutes=4),
                                          by_user="admin", outcome=outcome, reason="back to the gate's decision"))
        connection.execute(insert(Override.__table__), overrides)
        exits = []
        allowed = connection.execute(select(Entry.gate_id, Entry.decided_at)
                                     .where(Entry.outcome == "allowed", Entry.id % 9 == 0))
        for gate, at in allowed:
            left = at + timedelta(minutes=40)
            exits.append(dict(uid=new_uid(), gate_id=gate, at=left, local_date=left.astimezone(ZONE).date().isoformat(),
                              source="sensor"))
        for start in range(0, len(exits), 50_000):
            connection.execute(insert(Exit.__table__), exits[start:start + 50_000])
        session.commit()


def build_sqlite(url: str, rows: int) -> float:
    engine = open_database(url)
    try:
        with Session(engine) as session:
            have = session.exec(select(func.count()).select_from(Entry)).one()
        if have >= rows:
            return 0.0
        started = time.perf_counter()
        with engine.begin() as connection:
            batch = []
            for values in entries(rows, have):
                batch.append(dict(zip(COLUMNS, values)))
                if len(batch) == 50_000:
                    connection.execute(insert(Entry.__table__), batch)
                    batch = []
            if batch:
                connection.execute(insert(Entry.__table__), batch)
        overrides_and_exits(engine, rows)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def pg_database(admin_url: str, name: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(admin_url)
    return f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:" \
           f"{params.get('port', '5432')}/{name}"


def build_postgres(admin_url: str, rows: int, deadline_s: float) -> tuple[str, float]:
    """The database checkpoint_bench_<rows>, built by COPY unless it is there with its rows (reused)."""
    import psycopg

    name = f"checkpoint_bench_{rows}"
    url = pg_database(admin_url, name)
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if exists:
        engine = open_database(url, migrate_schema=True)
        with Session(engine) as session:
            have = session.exec(select(func.count()).select_from(Entry)).one()
            overrides = session.exec(select(func.count()).select_from(Override)).one()
        engine.dispose()
        if have >= rows and overrides:
            return url, 0.0
    started = time.perf_counter()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    open_database(url, migrate_schema=True).dispose()
    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw) as connection:
        with connection.cursor().copy(f"COPY entry ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for n, values in enumerate(entries(rows)):
                copy.write_row(values)
                if n % 1_000_000 == 0 and time.perf_counter() - started > deadline_s:
                    raise TimeoutError(f"{n:,} rows after {time.perf_counter() - started:.0f} s")
        connection.commit()
    engine = open_database(url)
    overrides_and_exits(engine, rows)
    engine.dispose()
    with psycopg.connect(raw, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")  # what autovacuum does after a bulk load: statistics, visibility map
    return url, time.perf_counter() - started


# -- timing and plans -------------------------------------------------------------------------------------------

def timed(fn, repeat: int = 5) -> tuple[float, float]:
    fn()  # warm the page cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


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
                median, top = timed(lambda: log_query(session, flt), repeat)
                print(f"    {median:7.1f} ms (max {top:.1f})  {label(flt)}  [{found} rows, count {n}]")
                show_plan(session, flt)
            print("\n  the issue's slowest filters (2.3 s before), over 2000-01-01..2099-12-31:")
            for name, flt in NAMED.items():
                median, top = timed(lambda: log_query(session, flt), repeat)
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


class Browser:
    """A manager's browser: cookies (the session, the sign-in device cookie), sign-in through /login with its
    CSRF token, streamed reads."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def sign_in(self, username: str, password: str) -> None:
        page = self.opener.open(f"{self.base}/login").read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": username, "password": password, "csrf_token": token}).encode()
        response = self.opener.open(f"{self.base}/login", form)  # 302 to the screen, followed
        assert "/login" not in response.geturl(), "sign-in refused"
        response.read()

    def get(self, path: str, headers: dict | None = None) -> tuple[int, int]:
        request = urllib.request.Request(f"{self.base}{path}", headers=headers or {})
        with self.opener.open(request) as response:
            assert "/login" not in response.geturl(), f"{path}: not signed in"
            size = 0
            while chunk := response.read(1 << 16):
                size += len(chunk)
            return response.status, size


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def http_bench(url: str, data_dir: Path, csv_range: tuple[str, str]) -> dict:
    """The real app on a real socket (werkzeug, threaded), a manager signed in at /login."""
    from web.users import create_user, find_user

    settings = Settings.model_validate({"data_dir": str(data_dir), "database": {"url": url},
                                        "web": {"secret_key": "bench"}})
    app = create_app(settings)  # reads the report counts in the background from here (web/reports.py)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    figures: dict = {}
    try:
        with Session(app.extensions["checkpoint"].engine) as session:
            if find_user(session, "bench") is None:
                create_user(session, "bench", "bench-password", "manager")
        browser = Browser(f"http://127.0.0.1:{server.port}")
        browser.sign_in("bench", "bench-password")
        day, month_ago, year_ago = LAST_DAY.isoformat(), (LAST_DAY - timedelta(days=29)).isoformat(), \
            FIRST_DAY.isoformat()
        print(f"\n  {'page (through HTTP, signed in at /login)':<62} {'median ms':>9} {'max ms':>7}  ok")

        def row(name: str, path: str, headers: dict | None = None, repeat: int = 5, client: Browser = browser) -> None:
            def load():
                status, _ = client.get(path, headers)
                assert status == 200, (path, status)
            median, worst = timed(load, repeat)
            figures[name] = median
            print(f"  {name:<62} {median:>9.1f} {worst:>7.1f}  {'yes' if median <= TARGET_MS else 'NO'}")

        started = time.perf_counter()
        browser.get(f"/reports?from={year_ago}&to={day}")
        first = (time.perf_counter() - started) * 1000
        figures["HTTP /reports a year, first after start"] = first
        print(f"  {'/reports a year at once after start (waits for its first read)':<62} {first:>9.1f}")
        row("/reports 30 days (by day)", f"/reports?from={month_ago}&to={day}")
        row("/reports a quarter (by week)", f"/reports?from={(LAST_DAY - timedelta(days=90)).isoformat()}&to={day}")
        row("/reports a year (by month)", f"/reports?from={year_ago}&to={day}")
        row("/reports.csv a year, by day", f"/reports.csv?from={year_ago}&to={day}")
        row("/entries today (page + count + render)", f"/entries?from={day}")
        row("/entries a year, newest", f"/entries?from={year_ago}&to={day}")
        for name, flt in NAMED.items():
            query = urllib.parse.urlencode(flt.query_args())
            row(f"/entries {name}", f"/entries?{query}")
        row("/entries a year, gate-2, denied, fever, 36-37 °C, coolest",
            f"/entries?from={year_ago}&to={day}&gate=gate-2&outcome=denied&reason=fever&tmin=36&tmax=37&sort=coolest")
        auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench-password").decode()}
        row("/api/entries a year, denied (signed-in session)",
            f"/api/entries?from={year_ago}&to={day}&outcome=denied&limit=100")
        script = Browser(browser.base)  # no session: basic auth, a password hash (scrypt) on every call by design
        row("/api/entries a year, denied (basic auth, hash included)",
            f"/api/entries?from={year_ago}&to={day}&outcome=denied&limit=100", auth, repeat=3, client=script)

        first, last = csv_range
        peak = [rss_mb()]
        before = peak[0]
        done = threading.Event()

        def watch():
            while not done.wait(0.05):
                peak.append(rss_mb())

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        started = time.perf_counter()
        status, size = browser.get(f"/entries.csv?from={first}&to={last}")
        took = time.perf_counter() - started
        done.set()
        watcher.join()
        assert status == 200
        figures["csv_mb_s"] = size / 1e6 / took
        figures["csv_rss_growth_mb"] = max(peak) - before
        print(f"\n  CSV export {first}..{last}: {size / 1e6:.1f} MB in {took:.1f} s = {size / 1e6 / took:.1f} MB/s "
              f"(target {TARGET_MB_S:.0f}: {'yes' if size / 1e6 / took >= TARGET_MB_S else 'NO'}); the process's "
              f"memory "
              f"{before:.0f} MB before, at most {max(peak):.0f} MB while it streamed")
    finally:
        server.shutdown()
        server.server_close()
        close_app(app)
    return figures


def sse_bench(data_dir: Path, clients: int, seconds: float, rate: float) -> dict:
    url = f"sqlite:///{data_dir / 'sse.db'}"
    (data_dir / "sse.db").unlink(missing_ok=True)
    settings = Settings.model_validate({"data_dir": str(data_dir), "database": {"url": url},
                                        "web": {"secret_key": "bench", "kiosk": True,  # all from 127.0.0.1:
                                                "max_event_streams_per_address": max(clients, 1)}})
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server_thread = threading.Thread(target=server.serve_forever, daemon=True)
    server_thread.start()
    received: list[dict[str, float]] = [dict() for _ in range(clients)]
    ready = threading.Barrier(clients + 1)
    stop = threading.Event()

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request("GET", "/events")
        response = connection.getresponse()
        response.readline()
        ready.wait()
        event = None
        while not stop.is_set():
            line = response.readline()
            if not line:
                break
            if line.startswith(b"event: "):
                event = line[7:].strip()
            elif line.startswith(b"data: ") and event == b"entry":
                received[index][json.loads(line[6:])["uid"]] = time.time()
        connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=30)
    time.sleep(0.5)  # every stream has subscribed
    committed: dict[str, float] = {}
    agent_engine = open_database(url)
    recorder = Recorder(agent_engine)
    recorder.on_committed(lambda rows: committed.update({r.uid: time.time() for r in rows}))
    recorder.start()
    total = int(seconds * rate)
    started = time.monotonic()
    for i in range(total):
        now = datetime.now(timezone.utc)
        local = now.astimezone(ZONE)
        recorder.submit(Entry(gate_id="gate-1", decided_at=now, local_date=local.date().isoformat(),
                              local_hour=local.hour, outcome="denied" if i % 10 == 0 else "allowed",
                              reasons="fever" if i % 10 == 0 else "", body_c=36.6))
        time.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
    recorder.stop()
    time.sleep(1.5)  # let the last events arrive
    stop.set()
    app.extensions["checkpoint"].broker.close()
    server.shutdown()
    server.server_close()
    for thread in threads:
        thread.join(timeout=5)
    latencies = [got[uid] - committed[uid] for got in received for uid in got if uid in committed]
    close_app(app)
    agent_engine.dispose()
    latencies.sort()
    return {
        "clients": clients, "entries": total, "expected": clients * total, "delivered": len(latencies),
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
        "max_ms": 1000 * latencies[-1] if latencies else None,
    }



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
