"""Agent benchmarks: decision latency and replay speed.

1. Decision latency: a reading's last byte written to a pseudo-terminal →
   the entry committed in the SQLite log (WAL, synchronous=FULL), through the
   real serial reader, visit tracker, rules and recorder (AgentRuntime).
   The visitor's face frames are handed to the agent before each reading, as
   the camera would have. Target: p99 ≤ 50 ms.
2. Replay speed: every session fixture replayed as fast as possible, in
   multiples of real time (recorded seconds / wall seconds). Target: ≥ 50×.

    python bench/bench_agent.py [--visitors 300]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checkpoint.config import load_settings  # noqa: E402
from checkpoint.messages import Box, MaskObservation  # noqa: E402
from checkpoint.replay import load_session, replay  # noqa: E402
from checkpoint.runtime import AgentRuntime  # noqa: E402
from drivers.thermal.virtual import VirtualScanner  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class EventStreamClients:
    """N browsers with the entry screen open: the web app on the agent's database, N /events readers."""

    def __init__(self, settings, clients: int) -> None:
        from checkpoint.service import WebServer

        self.server = WebServer(settings).start()
        self.events = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        host, port = self.server.url.rsplit("/", 1)[-1].split(":")
        self._threads = [threading.Thread(target=self._read, args=(host, int(port)), daemon=True)
                         for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _read(self, host: str, port: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request("GET", "/events")
        response = connection.getresponse()
        while not self._stop.is_set():
            line = response.readline()
            if not line:
                break
            if line.startswith(b"event: entry"):
                with self._lock:
                    self.events += 1
        connection.close()

    def stop(self) -> None:
        self._stop.set()
        self.server.app.extensions["checkpoint"].broker.close()
        self.server.stop()


def decision_latency(visitors: int, web_clients: int = 0) -> tuple[list[float], int]:
    scanner = VirtualScanner("ascii", {"pattern": "adafruit"}, idle_c=None, banner=False)
    path = scanner.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, overrides={
            "data_dir": tmp, "scanner": {"url": path, "protocol": "ascii", "options": {"pattern": "adafruit"}},
            "camera": {"source": "simulated"}, "web": {"port": 0, "kiosk": True, "secret_key": "bench",
                                                        "max_event_streams_per_address": max(web_clients, 1)},
        })
        runtime = AgentRuntime(settings).start()
        web = EventStreamClients(settings, web_clients) if web_clients else None
        if web:
            time.sleep(1.0)  # every stream has subscribed
        committed = threading.Event()
        done_at: list[float] = []

        def on_commit(rows) -> None:
            if any(getattr(row, "outcome", None) for row in rows):
                done_at.append(time.perf_counter())
                committed.set()

        runtime.recorder.on_committed(on_commit)
        latencies = []
        try:
            for _ in range(visitors):
                now = runtime.clock.now()  # frames after the previous visitor's decision belong to this one
                for i in range(6):
                    runtime.put(MaskObservation(now - 0.06 + i * 0.01, Box(200, 120, 150, 150),
                                                {"mask": 0.96, "no_mask": 0.04}))
                committed.clear()
                scanner.send_temperature(36.5)  # returns once the last byte is written
                written = time.perf_counter()
                if not committed.wait(5):
                    raise RuntimeError("no entry committed within 5 s")
                latencies.append((done_at[-1] - written) * 1000)
                scanner.send_temperature(26.0)  # the background: the visitor has left
                time.sleep(0.1)
            if web:
                time.sleep(1.0)  # the last events reach the screens
        finally:
            if web:
                web.stop()
            runtime.stop()
            scanner.stop()
    return latencies, web.events if web else 0


def replay_speed() -> list[tuple[str, float, float, int]]:
    rows = []
    sessions = sorted(p for p in (REPO / "tests/fixtures/sessions").iterdir() if (p / "session.toml").is_file())
    with tempfile.TemporaryDirectory() as tmp:
        for index, directory in enumerate(sessions):
            session = load_session(directory)
            result = replay(session, f"sqlite:///{tmp}/r{index}.db")
            rows.append((directory.name, result.recorded_s, result.wall_s, result.events))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument("--web-clients", type=int, default=50, help="event-stream clients for the second run")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    print("decision latency, reading's last byte on a pty -> entry committed (target p99 <= 50 ms)")
    for clients in (0, args.web_clients):
        latencies, delivered = decision_latency(args.visitors, clients)
        label = f"{clients} event-stream clients" if clients else "no web app"
        print(f"  {label:<26} p50 {statistics.median(latencies):6.2f} ms   p90 {percentile(latencies, 90):6.2f} ms"
              f"   p99 {percentile(latencies, 99):6.2f} ms   max {max(latencies):6.2f} ms"
              + (f"   ({delivered} of {clients * len(latencies)} entry events delivered)" if clients else ""))

    rows = replay_speed()
    print("\nreplay speed (as fast as possible, fresh SQLite each)")
    print(f"  {'session':<22} {'recorded s':>10} {'wall s':>8} {'events':>7} {'x real time':>12}")
    for name, recorded, wall, events in rows:
        print(f"  {name:<22} {recorded:10.1f} {wall:8.3f} {events:7d} {recorded / wall:12.0f}")
    total_recorded = sum(r[1] for r in rows)
    total_wall = sum(r[2] for r in rows)
    print(f"  {'all':<22} {total_recorded:10.1f} {total_wall:8.3f} {sum(r[3] for r in rows):7d} "
          f"{total_recorded / total_wall:12.0f}   (target >= 50x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
