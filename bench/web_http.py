"""bench_web's stages through the real app on a real socket (werkzeug, threaded): pages, reports and the CSV
signed in at /login, and event streams fed by the Recorder."""

from __future__ import annotations

import base64
import http.client
import http.cookiejar
import json
import logging
import re
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlmodel import Session
from web_dataset import FIRST_DAY, LAST_DAY, ZONE
from web_queries import NAMED
from web_timing import TARGET_MB_S, TARGET_MS, rss_mb, timed
from werkzeug.serving import make_server

from checkpoint.config import Settings
from checkpoint.db import open_database
from checkpoint.models import Entry
from checkpoint.recorder import Recorder
from web import close_app, create_app


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
