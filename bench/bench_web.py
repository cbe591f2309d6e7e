"""Web app benchmark: counts and the filtered log over 1,000,000 entries; 50 live event-stream clients.

    .venv/bin/python bench/bench_web.py [--rows 1000000] [--clients 50] [--seconds 20] [--dir /tmp/checkpoint_bench]

1. Builds (once, reused afterwards) a SQLite file with ``--rows`` entries over a
   year, two gates, written with executemany, and times daily counts and the
   visitor log's first page for several filters (targets: 50 ms and 100 ms).
2. Serves the app with werkzeug's threaded server, opens ``--clients`` event
   streams (a thread each), writes entries at 10 per second through the
   Recorder, and measures delivery latency from commit to each client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert
from sqlmodel import Session, select
from werkzeug.serving import make_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkpoint.config import Settings  # noqa: E402
from checkpoint.counts import daily_counts, daily_range  # noqa: E402
from checkpoint.db import open_database  # noqa: E402
from checkpoint.models import Entry, new_uid  # noqa: E402
from checkpoint.recorder import Recorder  # noqa: E402
from web import close_app, create_app  # noqa: E402
from web.filters import EntryFilter, count, page  # noqa: E402

ZONE = ZoneInfo("Asia/Jakarta")
LAST_DAY = date(2026, 10, 31)
REASONS = [("fever", 0.3), ("no_mask", 0.35), ("mask_incorrect", 0.15), ("fever_retest", 0.1), ("no_face", 0.1)]


def generate(url: str, rows: int) -> float:
    engine = open_database(url)
    try:
        with Session(engine) as session:
            have = session.exec(select(func.count()).select_from(Entry)).one()
        if have >= rows:
            return 0.0
        started = time.perf_counter()
        rng = random.Random(7)
        first = datetime.combine(LAST_DAY - timedelta(days=364), datetime.min.time(), ZONE)
        span_s = 365 * 86400
        chunk = 50_000
        table = Entry.__table__
        with engine.begin() as connection:
            for start in range(have, rows, chunk):
                batch = []
                for i in range(start, min(start + chunk, rows)):
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
                    batch.append(dict(
                        uid=new_uid(), gate_id="gate-1" if i % 3 else "gate-2", decided_at=local.astimezone(timezone.utc),
                        local_date=local.date().isoformat(), local_hour=local.hour, outcome=outcome, flagged=False,
                        reasons=reasons, primary_reason=reasons.split(",")[0], body_c=body, object_c=body,
                        ambient_c=27.0, calibration="offset", offset_c=0.4, sensor_id="scanner", readings=1,
                        mask_class="mask" if "mask" not in reasons else "no_mask", mask_confidence=0.9,
                        face_seen=True, rules="{}",
                    ))
                connection.execute(insert(table), batch)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def timed(fn, repeat: int = 7) -> tuple[float, float]:
    fn()  # warm the page cache
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def query_bench(url: str) -> list[tuple[str, float, float, float]]:
    engine = open_database(url)
    day = LAST_DAY.isoformat()
    month_ago = (LAST_DAY - timedelta(days=29)).isoformat()
    year_ago = (LAST_DAY - timedelta(days=364)).isoformat()
    results = []
    try:
        with Session(engine) as session:
            results.append(("daily_counts, one day, all gates", *timed(lambda: daily_counts(session, day)), 50))
            results.append(("daily_counts, one day, gate-2", *timed(lambda: daily_counts(session, day, "gate-2")), 50))
            results.append(("daily_range, 30 days (report)", *timed(lambda: daily_range(session, month_ago, day)), 50))
            filters = {
                "log page 1: today, newest": EntryFilter(day, day),
                "log page 1: 30 days, denied+fever": EntryFilter(month_ago, day, outcome="denied", reason="fever"),
                "log page 1: whole year, newest": EntryFilter(year_ago, day),
                "log page 1: year, gate-2, 37.5-39 °C": EntryFilter(year_ago, day, gate="gate-2", tmin=37.5, tmax=39.0),
                "log page 1: 7 days, hottest first": EntryFilter((LAST_DAY - timedelta(days=6)).isoformat(), day,
                                                                 sort="hottest"),
            }
            for name, flt in filters.items():
                results.append((name, *timed(lambda: page(session, flt, None, 50)), 100))
            year = filters["log page 1: whole year, newest"]
            rows, after = page(session, year, None, 50)
            for _ in range(100):  # deep keyset page
                rows, after = page(session, year, after, 50)
            results.append(("log page 102 (keyset), whole year", *timed(lambda: page(session, year, after, 50)), 100))
            results.append(("count: 30 days, denied+fever",
                            *timed(lambda: count(session, filters["log page 1: 30 days, denied+fever"])), 100))
            results.append(("count: whole year, exact", *timed(lambda: count(session, year), repeat=3), None))
            results.append(("count: whole year, capped at 1000 (log page)",
                            *timed(lambda: count(session, year, 1000)), 100))
    finally:
        engine.dispose()
    return results


def http_bench(url: str, data_dir: Path) -> list[tuple[str, float, float, float]]:
    """The whole /entries page (filter, count, render) through the app, as a signed-in manager would load it."""
    import base64

    from web.users import create_user, find_user

    settings = Settings.model_validate({"data_dir": str(data_dir), "database": {"url": url},
                                        "web": {"secret_key": "bench"}})
    app = create_app(settings)
    try:
        with Session(app.extensions["checkpoint"].engine) as session:
            if find_user(session, "bench") is None:
                create_user(session, "bench", "bench-password", "manager")
        client = app.test_client()
        auth = {"Authorization": "Basic " + base64.b64encode(b"bench:bench-password").decode()}
        day = LAST_DAY.isoformat()
        month_ago = (LAST_DAY - timedelta(days=29)).isoformat()

        def get(path):
            response = client.get(path, headers=auth)
            assert response.status_code == 200, (path, response.status_code)
            response.close()

        # the API does basic auth per request (a password hash check, ~50 ms by design); the session path is the UI's
        results = [("HTTP /api/entries today (basic auth each call)", *timed(lambda: get(f"/api/entries?from={day}&limit=50")), None)]
        with client.session_transaction() as session:
            with Session(app.extensions["checkpoint"].engine) as db:
                session["user_id"] = find_user(db, "bench").id
        auth = {}
        results.append(("HTTP /entries today (page + count + render)", *timed(lambda: get(f"/entries?from={day}")), 100))
        results.append(("HTTP /entries whole year", *timed(lambda: get(f"/entries?from={LAST_DAY - timedelta(days=364)}&to={day}")), 100))
        results.append(("HTTP /entries year, gate-2, 37.5-39 °C", *timed(
            lambda: get(f"/entries?from={LAST_DAY - timedelta(days=364)}&to={day}&gate=gate-2&tmin=37.5&tmax=39")), 100))
        results.append(("HTTP /entries 30 days denied+fever",
                        *timed(lambda: get(f"/entries?from={month_ago}&to={day}&outcome=denied&reason=fever")), 100))
        results.append(("HTTP /reports 30 days", *timed(lambda: get(f"/reports?from={month_ago}&to={day}")), None))
        return results
    finally:
        close_app(app)


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
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=10.0, help="entries per second during the stream test")
    parser.add_argument("--dir", default="/tmp/checkpoint_bench")
    args = parser.parse_args()
    data_dir = Path(args.dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{data_dir / f'entries_{args.rows}.db'}"
    built = generate(url, args.rows)
    print(f"database: {url} ({args.rows:,} entries{f', generated in {built:.1f} s' if built else ', reused'})")
    print(f"\n{'query':<48} {'median ms':>10} {'max ms':>8} {'target':>7}  ok")
    for name, median, worst, target in query_bench(url) + http_bench(url, data_dir):
        ok = "" if target is None else ("yes" if median <= target else "NO")
        print(f"{name:<48} {median:>10.1f} {worst:>8.1f} {target if target else '-':>7}  {ok}")
    sse = sse_bench(data_dir, args.clients, args.seconds, args.rate)
    print(f"\nevent streams: {sse['clients']} clients, {sse['entries']} entries at {args.rate:g}/s through the Recorder")
    print(f"{'delivered':<20} {sse['delivered']} of {sse['expected']}")
    for key in ("p50_ms", "p99_ms", "max_ms"):
        value = sse[key]
        print(f"{'commit->client ' + key[:-3]:<20} {value:.0f} ms" if value is not None else f"{key}: -")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
