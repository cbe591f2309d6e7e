"""Live screens against the documented production server: N open event streams, /healthz latency under them.

    .venv/bin/python bench/bench_streams.py [--streams 500] [--server production|gthread|gevent|builtin|old]
                                            [--compare] [--samples 200] [--entries 5]

For each server it:

1. writes a configuration with a temporary SQLite database (kiosk on, so the
   streams are anonymous, as an attacker's would be) and starts the server on
   127.0.0.1 (``production`` is the command README.md and docs/api.md give);
2. opens ``--streams`` GET /events from 127.1.x.y source addresses, 10 per
   address (the per-address cap is 20), all held by one selector thread;
3. asks /healthz (and /login) ``--samples`` times, one new connection each,
   while it commits ``--entries`` entries, and times each answer; then as
   many again while another client fails to sign in over and over (each
   attempt a scrypt hash: CPU-bound work beside the streams);
4. checks that every entry reaches every open stream (commit to arrival), that
   one stream more than web.max_event_streams is refused with 503, and reads
   the server's threads and memory from /proc.

``--compare`` runs production (gunicorn gthread through web.gunicorn_config),
gevent and builtin (werkzeug, as `checkpoint run`) in turn, then two servers
with 16 threads and 40 streams: ``threads16`` (the configuration, overridden
by --threads 16: the app lowers its stream cap to 8) and ``old`` (the command
documented before issue 13, without the configuration: the pages starve).
Loopback only; each run stops by itself (well under a minute each).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from sqlmodel import Session  # noqa: E402
from streams_clients import SignIns, Streams, free_port, get, sample_healthz  # noqa: E402

from checkpoint.db import open_database  # noqa: E402
from checkpoint.models import Entry  # noqa: E402

ZONE = ZoneInfo("Asia/Jakarta")
BIN = Path(sys.executable).parent

# The production command (README.md "Deployment", docs/api.md "Production notes") and the options measured.
GUNICORN = str(BIN / "gunicorn")
SERVERS = {
    "production": [GUNICORN, "-c", "python:web.gunicorn_config", "web.wsgi:app"],  # gthread, 564 threads
    "gevent": [GUNICORN, "-c", "python:web.gunicorn_config", "-k", "gevent", "web.wsgi:app"],
    "builtin": [str(BIN / "checkpoint"), "web"],  # checkpoint run / demo / web
    "threads16": [GUNICORN, "-c", "python:web.gunicorn_config", "--threads", "16", "web.wsgi:app"],
    "old": [GUNICORN, "-w", "1", "--threads", "16", "web.wsgi:app"],  # documented before issue 13
}
SMALL = {"threads16": 40, "old": 40}  # streams for the runs that show a too-small server


def commit_entry(engine, index: int) -> tuple[str, float]:
    now = datetime.now(timezone.utc)
    local = now.astimezone(ZONE)
    entry = Entry(gate_id="gate-1", decided_at=now, local_date=local.date().isoformat(), local_hour=local.hour,
                  outcome="denied" if index % 2 else "allowed", reasons="fever" if index % 2 else "", body_c=36.6)
    with Session(engine, expire_on_commit=False) as session:
        session.add(entry)
        session.commit()
        return entry.uid, time.time()


def process_stats(pid: int) -> tuple[int, float]:
    """Threads and resident MB of ``pid`` and its children (gunicorn's worker)."""
    threads, rss_kb = 0, 0
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            pids += [int(p) for p in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    for one in pids:
        try:
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("Threads:"):
                    threads += int(line.split()[1])
                elif line.startswith("VmRSS:"):
                    rss_kb += int(line.split()[1])
        except OSError:
            pass
    return threads, rss_kb / 1024


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(name: str, streams: int, samples: int, entries: int, max_streams: int | None) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="bench_streams_"))
    port = free_port()
    cap = max_streams or max(500, streams)
    config = workdir / "web.toml"
    config.write_text(f'data_dir = "{workdir}"\n\n[web]\nhost = "127.0.0.1"\nport = {port}\nkiosk = true\n'
                      f'secret_key = "bench-secret"\nmax_event_streams = {cap}\n')
    engine = open_database(f"sqlite:///{workdir / 'checkpoint.db'}")  # creates and migrates the log
    command = list(SERVERS[name])
    if command[0].endswith("gunicorn"):
        command[1:1] = ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    else:
        command += ["-c", str(config)]
    env = dict(os.environ, CHECKPOINT_CONFIG=str(config), PYTHONPATH=str(ROOT))
    log = open(workdir / "server.log", "w")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    result: dict = {"server": name, "command": " ".join(Path(c).name if i == 0 else c
                                                         for i, c in enumerate(command)), "streams": streams}
    holder = Streams(port)
    try:
        deadline = time.monotonic() + 30
        while get(port, "/healthz", 1.0)[0] != 200:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{name}: the server did not start (see {workdir / 'server.log'})")
            time.sleep(0.2)
        idle = [get(port, "/healthz")[1] for _ in range(20)]
        result["idle_median_ms"] = statistics.median(idle) * 1000
        result["open_s"] = holder.open(streams, timeout_s=15.0)
        time.sleep(1.0)  # every stream has had its first bytes
        result["held"] = holder.open_ok
        result["refused_while_opening"] = sum(1 for code in holder.status.values() if code != 200)
        if holder.open_ok >= cap:
            status, seconds, headers = get(port, "/events")
            result["one_more"] = f"{status} in {seconds * 1000:.0f} ms, Retry-After {headers.get('Retry-After')}"
        latencies, login, failures, uids = [], [], 0, []
        every = max(1, samples // max(1, entries))
        for i in range(samples):
            if i % every == every // 2 and len(uids) < entries:
                uid, committed = commit_entry(engine, len(uids))
                holder.expect(uid)
                uids.append((uid, committed))
            status, seconds, _ = get(port, "/healthz")
            failures += status != 200
            latencies.append(seconds)
            if i % 10 == 0:
                status, seconds, _ = get(port, "/login")
                failures += status != 200
                login.append(seconds)
            if failures >= 5:  # the pages are not answering: no point in waiting out every timeout
                result["gave_up_after"] = i + 1
                break
            time.sleep(0.02)
        if "gave_up_after" not in result:  # the same under a stream of failed sign-ins (CPU-bound hashing)
            sign_ins = SignIns(port).start()
            hashing = sample_healthz(port, samples)
            result["sign_ins_per_s"] = sign_ins.stop()
            result["sign_in_statuses"] = sign_ins.statuses
            if hashing:
                result.update(hashing_median_ms=statistics.median(hashing) * 1000,
                              hashing_p99_ms=pct(hashing, 0.99) * 1000, hashing_max_ms=max(hashing) * 1000,
                              hashing_failures=samples - len(hashing))
        time.sleep(2.0)  # let the last entry arrive everywhere
        result.update(healthz_median_ms=statistics.median(latencies) * 1000, healthz_p99_ms=pct(latencies, 0.99) * 1000,
                      healthz_max_ms=max(latencies) * 1000, login_median_ms=statistics.median(login) * 1000,
                      login_max_ms=max(login) * 1000, failures=failures)
        delivery, reached = [], []
        for uid, committed in uids:
            got = holder.arrivals[uid]
            reached.append(len(got))
            delivery += [t - committed for t in got.values()]
        result["entries"] = len(uids)
        result["reached_all"] = sum(1 for n in reached if n >= holder.open_ok)
        result["min_reached"] = min(reached) if reached else 0
        if delivery:
            result.update(delivery_median_ms=statistics.median(delivery) * 1000,
                          delivery_p99_ms=pct(delivery, 0.99) * 1000, delivery_max_ms=max(delivery) * 1000)
        result["threads"], result["rss_mb"] = process_stats(server.pid)
        result["closed_by_server"] = holder.closed
    finally:
        holder.close()
        try:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
        log.close()
        engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def report(r: dict) -> None:
    print(f"\n== {r['server']}: {r['command']}")
    print(f"   streams held      {r['held']} of {r['streams']} "
          f"(opened in {r['open_s']:.1f} s; refused {r['refused_while_opening']})"
          + (f"; one more: {r['one_more']}" if "one_more" in r else ""))
    print(f"   /healthz idle     median {r['idle_median_ms']:.1f} ms")
    print(f"   /healthz loaded   median {r['healthz_median_ms']:.1f} ms, p99 {r['healthz_p99_ms']:.1f} ms, "
          f"max {r['healthz_max_ms']:.1f} ms; "
          f"/login median {r['login_median_ms']:.1f} ms, max {r['login_max_ms']:.1f} ms; "
          f"failed requests {r['failures']}"
          + (f" (stopped after {r['gave_up_after']} samples)" if "gave_up_after" in r else ""))
    if "hashing_median_ms" in r:
        print(f"   /healthz + sign-ins  median {r['hashing_median_ms']:.1f} ms, p99 {r['hashing_p99_ms']:.1f} ms, "
              f"max {r['hashing_max_ms']:.1f} ms, failed {r['hashing_failures']}; beside "
              f"{r['sign_ins_per_s']:.1f} failed sign-ins/s (statuses {r['sign_in_statuses']})")
    if r.get("entries"):
        print(f"   entries           {r['reached_all']} of {r['entries']} reached every open stream "
              f"(fewest: {r['min_reached']}); commit to arrival median {r.get('delivery_median_ms', 0):.0f} ms, "
              f"p99 {r.get('delivery_p99_ms', 0):.0f} ms, max {r.get('delivery_max_ms', 0):.0f} ms")
    print(f"   server            {r['threads']} threads, {r['rss_mb']:.0f} MB resident; "
          f"streams it closed: {r['closed_by_server']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--server", choices=sorted(SERVERS), default="production")
    parser.add_argument("--compare", action="store_true",
                        help="production, gevent, builtin, then threads16 and old with 40 streams")
    parser.add_argument("--samples", type=int, default=200, help="/healthz requests under load")
    parser.add_argument("--entries", type=int, default=5, help="entries committed while measuring")
    parser.add_argument("--max-streams", type=int, default=None, help="web.max_event_streams (default: max(500, N))")
    args = parser.parse_args()
    runs = [(args.server, args.streams)]
    if args.compare:
        runs = [(name, SMALL.get(name, args.streams))
                for name in ("production", "gevent", "builtin", "threads16", "old")]
    ok = True
    for name, streams in runs:
        try:
            result = run(name, streams, args.samples, args.entries, args.max_streams)
        except RuntimeError as exc:
            print(f"\n== {name}: {exc}")
            ok = False
            continue
        report(result)
        if name not in SMALL:
            ok &= (result["held"] >= streams and result["healthz_p99_ms"] < 1000 and result["failures"] == 0
                   and result["reached_all"] == result["entries"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
