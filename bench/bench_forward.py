"""Benchmark: many gates forwarding into one PostgreSQL while the dashboard is open.

    .venv/bin/python bench/bench_forward.py [--agents 20] [--rate 1] [--duration 300] [--processes 1]

Each agent is what a gate runs for storage: its own SQLite log (the outbox), a
Recorder, a Forwarder to the central database, and a heartbeat (GateStatus
upserted centrally every second, as AgentRuntime does). Entries are submitted
at ``--rate`` per second per agent, with a random phase per agent. Agents run
as threads, split over ``--processes`` processes (to see whether one
interpreter's GIL distorts the numbers). "The dashboard open" is the web app's
own server-sent-events poller (web.events.Broker, 200 ms poll) on the central
database, in this (parent) process.

Printed: forwarding lag (entry committed locally -> seen by the dashboard
poller) p50/p99/max, central write rate (entry rows/s), the largest backlog
any agent showed (recorder queue + unforwarded rows), and a check that the
central log holds every entry exactly once. A fresh database is created on
the server of CHECKPOINT_TEST_PG_URL (default postgres@127.0.0.1:5432/test)
and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from checkpoint.db import open_database  # noqa: E402
from checkpoint.entries import local_date_hour  # noqa: E402
from checkpoint.forwarder import Forwarder  # noqa: E402
from checkpoint.health import HealthRegistry  # noqa: E402
from checkpoint.models import Entry  # noqa: E402
from checkpoint.recorder import Recorder, gate_status  # noqa: E402

ADMIN_URL = os.environ.get("CHECKPOINT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
JAKARTA = ZoneInfo("Asia/Jakarta")


# -- one process's agents ----------------------------------------------------------

class BenchAgent:
    def __init__(self, gate_id: str, folder: Path, central_url: str, rate: float) -> None:
        self.gate_id = gate_id
        self.rate = rate
        self.engine = open_database(f"sqlite:///{folder / (gate_id + '.db')}")
        self.health = HealthRegistry()
        self.recorder = Recorder(self.engine, self.health.reporter("database"))
        self.forwarder = Forwarder(self.engine, central_url, self.health.reporter("central"))
        self.committed: dict[str, float] = {}  # uid -> time the local commit returned
        self.recorder.on_committed(self._committed)
        self.backlog_max = 0
        self.submitted = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started_at = datetime.now(timezone.utc)

    def _committed(self, rows) -> None:
        now = time.time()
        for row in rows:
            self.committed[row.uid] = now
        self.forwarder.kick()

    def start(self) -> None:
        self.recorder.start()
        self.forwarder.start()
        for target, name in ((self._produce, "produce"), (self._heartbeat, "heartbeat")):
            thread = threading.Thread(target=target, name=f"{self.gate_id}-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _produce(self) -> None:
        period = 1.0 / self.rate
        due = time.monotonic() + random.uniform(0, period)
        n = 0
        while not self._stop.wait(max(0.0, due - time.monotonic())):
            t = time.time()
            day, hour = local_date_hour(t, JAKARTA)
            self.recorder.submit(Entry(gate_id=self.gate_id, decided_at=datetime.fromtimestamp(t, tz=timezone.utc),
                                       local_date=day, local_hour=hour, outcome="allowed", body_c=36.6,
                                       sensor_id=f"bench-{n}"))
            n += 1
            self.submitted = n
            due += period

    def backlog(self) -> int:
        return self.recorder.backlog + self.forwarder.pending()

    def _heartbeat(self) -> None:
        while not self._stop.wait(1.0):
            backlog = self.backlog()
            self.backlog_max = max(self.backlog_max, backlog)
            now = time.time()
            status = gate_status(self.gate_id, self.gate_id, "Asia/Jakarta", self.health.snapshot(now), backlog, 0,
                                 self.started_at, now)
            self.forwarder.publish_status(status)
            self.recorder.publish_status(status)

    def stop_producing(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    def finish(self, timeout: float) -> bool:
        ok = self.recorder.stop(timeout)
        ok = self.forwarder.stop(flush_timeout=timeout) and ok
        self.engine.dispose()
        return ok


def run_agents(gates: list[str], central_url: str, rate: float, duration: float, folder: Path) -> dict:
    agents = [BenchAgent(gate, folder, central_url, rate) for gate in gates]
    for agent in agents:
        agent.start()
    time.sleep(duration)  # the benchmark's measured window: the agents work in their threads
    for agent in agents:
        agent.stop_producing()
    delivered = all([agent.finish(60) for agent in agents])
    committed = {}
    for agent in agents:
        committed.update(agent.committed)
    return {"committed": committed, "backlog_max": max(agent.backlog_max for agent in agents),
            "submitted": sum(agent.submitted for agent in agents), "delivered": delivered}


# -- the database ------------------------------------------------------------------------

def admin():
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    return psycopg.connect(make_conninfo(**conninfo_to_dict(ADMIN_URL)), autocommit=True, connect_timeout=5)


def create_database() -> tuple[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    name = f"checkpoint_bench_{uuid.uuid4().hex[:10]}"
    with admin() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(ADMIN_URL)
    host, port, user = params.get("host", "127.0.0.1"), params.get("port", "5432"), params.get("user", "postgres")
    return name, f"postgresql+psycopg://{user}@{host}:{port}/{name}"


def drop_database(name: str) -> None:
    with admin() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- the dashboard ------------------------------------------------------------------------

class Dashboard:
    """The web app's SSE poller on the central database, with one screen subscribed."""

    def __init__(self, central_url: str) -> None:
        from web.events import CLOSED, Broker

        self._closed = CLOSED
        self.engine = open_database(central_url, migrate_schema=True)  # the owner's step (checkpoint init-db)
        self.broker = Broker(self.engine, poll_s=0.2)
        self.seen: dict[str, float] = {}
        self.resubscribed = 0
        self._stop = threading.Event()
        self._subscriber, _ = self.broker.subscribe()
        self._thread = threading.Thread(target=self._run, name="dashboard", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import queue

        while not self._stop.is_set():
            try:
                event = self._subscriber.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if event is self._closed:
                if self._stop.is_set():
                    return
                self.resubscribed += 1  # fell behind and was dropped: a screen would reconnect
                self._subscriber, _ = self.broker.subscribe()
                continue
            if event.kind == "entry":
                self.seen.setdefault(event.data["uid"], time.time())

    def central_uids(self) -> list[str]:
        from sqlalchemy import select

        with self.engine.connect() as connection:
            return list(connection.execute(select(Entry.uid)).scalars())

    def close(self) -> None:
        self._stop.set()
        self.broker.close()
        self._thread.join(5)
        self.engine.dispose()


# -- main ------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def child(args) -> int:
    gates = args.gates.split(",")
    result = run_agents(gates, args.central, args.rate, args.duration, Path(args.folder))
    Path(args.out).write_text(json.dumps(result))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1.0, help="entries per second per agent")
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of production")
    parser.add_argument("--processes", type=int, default=1, help="split the agents over this many processes")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--gates", help=argparse.SUPPRESS)
    parser.add_argument("--central", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    name, central_url = create_database()
    folder = Path(tempfile.mkdtemp(prefix="bench-forward-"))
    dashboard = None
    try:
        dashboard = Dashboard(central_url)  # migrates the central database (as init-db), subscribes one screen
        gates = [f"gate-{i:02d}" for i in range(args.agents)]
        wall0 = time.time()
        if args.processes <= 1:
            results = [run_agents(gates, central_url, args.rate, args.duration, folder)]
        else:
            groups = [gates[i::args.processes] for i in range(args.processes)]
            children = []
            for i, group in enumerate(groups):
                out = folder / f"child-{i}.json"
                children.append((out, subprocess.Popen(
                    [sys.executable, __file__, "--child", "--gates", ",".join(group), "--central", central_url,
                     "--rate", str(args.rate), "--duration", str(args.duration), "--folder", str(folder),
                     "--out", str(out)])))
            for _, process in children:
                process.wait()
            results = [json.loads(out.read_text()) for out, _ in children]
        committed: dict[str, float] = {}
        for result in results:
            committed.update(result["committed"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not set(committed) <= set(dashboard.seen):
            time.sleep(0.2)
        elapsed = time.time() - wall0
        central = dashboard.central_uids()
        lags = [dashboard.seen[uid] - t for uid, t in committed.items() if uid in dashboard.seen]
        submitted = sum(result["submitted"] for result in results)
        print(f"agents {args.agents} x {args.rate:g} entries/s for {args.duration:g} s "
              f"in {max(args.processes, 1)} process(es); dashboard: web.events.Broker polling every 0.2 s")
        print(f"entries: submitted {submitted}, committed locally {len(committed)}, central {len(central)} "
              f"(distinct {len(set(central))}), seen by the dashboard {len(lags)}")
        print(f"exactly once centrally: {len(central) == len(set(central)) and set(central) == set(committed)}; "
              f"every outbox delivered at stop: {all(result['delivered'] for result in results)}")
        if lags:
            print(f"forwarding lag committed locally -> seen by the dashboard: "
                  f"p50 {percentile(lags, 0.5) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms, "
                  f"max {max(lags) * 1000:.0f} ms, mean {statistics.fmean(lags) * 1000:.0f} ms")
        missed = len(set(central) - set(dashboard.seen))
        print(f"central write rate: {len(central) / args.duration:.1f} entry rows/s over the production window "
              f"({elapsed:.0f} s wall in all); dashboard missed {missed} rows, resubscribed {dashboard.resubscribed}x")
        print(f"backlog max (any agent, sampled every second): {max(result['backlog_max'] for result in results)}")
        return 0
    finally:
        if dashboard is not None:
            dashboard.close()
        drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
