"""Events out A/B: decision latency with the door relay, MQTT and a webhook on, against all of them off.

The same measure as bench_agent.py: a reading's last byte written to a pseudo-terminal -> the entry
committed in the SQLite log, through the real serial reader, visit tracker, rules and recorder. Variants,
run in alternating blocks in one process so drift hits them alike:

- off: no door, no events out;
- on: a virtual LCUS relay pulsed by the door worker, MQTT to the broker at 127.0.0.1:1883 (skipped when
  none answers) and a webhook to a local HTTP server, every entry delivered to both;
- dead: the relay as above, MQTT and the webhook pointed at a port that takes connections and never
  answers (a hung broker and receiver): decisions must not notice.

    python bench/bench_events.py [--visitors 200] [--blocks 4]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from checkpoint.config import load_settings  # noqa: E402
from checkpoint.messages import Box, MaskObservation  # noqa: E402
from checkpoint.runtime import AgentRuntime  # noqa: E402
from drivers.door.virtual import VirtualRelay  # noqa: E402
from drivers.thermal.virtual import VirtualScanner  # noqa: E402

SECRET = "bench-secret-0123456789"
BENCH_PREFIX = "checkpoint-bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def broker_answers(host: str = "127.0.0.1", port: int = 1883) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Receiver:
    def __init__(self) -> None:
        self.count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.count += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class BlackHole:
    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return


def clear_retained(host: str = "127.0.0.1", port: int = 1883) -> None:
    """Remove the retained state and availability the 'on' runs left on the broker."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect(host, port)
    client.loop_start()
    for kind in ("state", "availability"):
        client.publish(f"{BENCH_PREFIX}/gate-1/{kind}", b"", qos=1, retain=True).wait_for_publish(3)
    client.disconnect()
    client.loop_stop()


def run(variant: str, visitors: int, receiver: Receiver, hole: BlackHole) -> tuple[list[float], dict]:
    scanner = VirtualScanner("ascii", {"pattern": "adafruit"}, idle_c=None, banner=False)
    path = scanner.start()
    relay = VirtualRelay("lcus") if variant != "off" else None
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {"data_dir": tmp, "scanner": {"url": path, "protocol": "ascii", "options": {"pattern": "adafruit"}},
                     "camera": {"source": "simulated"}}
        if relay is not None:
            overrides["door"] = {"mode": "pulse", "open_s": 0.05, "relay": {"driver": "lcus", "url": relay.start()}}
        if variant == "on":
            overrides["mqtt"] = {"enabled": True, "topic_prefix": BENCH_PREFIX, "discovery": False}
            overrides["webhooks"] = {"enabled": True, "url": receiver.url, "secret": SECRET}
        elif variant == "dead":
            overrides["mqtt"] = {"enabled": True, "port": hole.port, "connect_timeout_s": 2}
            overrides["webhooks"] = {"enabled": True, "url": f"http://127.0.0.1:{hole.port}/hook", "secret": SECRET,
                                     "timeout_s": 2}
        delivered_before = receiver.count
        runtime = AgentRuntime(load_settings(environ={}, overrides=overrides)).start()
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
                now = runtime.clock.now()
                for i in range(6):
                    runtime.put(MaskObservation(now - 0.06 + i * 0.01, Box(200, 120, 150, 150),
                                                {"mask": 0.96, "no_mask": 0.04}))
                committed.clear()
                scanner.send_temperature(36.5)
                written = time.perf_counter()
                if not committed.wait(5):
                    raise RuntimeError("no entry committed within 5 s")
                latencies.append((done_at[-1] - written) * 1000)
                scanner.send_temperature(26.0)
                time.sleep(0.1)
            info = {}
            if runtime.events is not None:
                runtime.events.flush(5 if variant == "on" else 0)
                info = {sink.name: sink.delivered for sink in runtime.events.sinks}
                info["webhook_received"] = receiver.count - delivered_before
        finally:
            runtime.stop()
            scanner.stop()
            if relay is not None:
                relay.stop()
    return latencies, info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=200, help="visitors per variant, over all blocks")
    parser.add_argument("--blocks", type=int, default=4, help="alternating blocks per variant")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.CRITICAL)  # the dead variant's connection errors are expected
    variants = ["off", "on", "dead"] if broker_answers() else ["off", "dead"]
    if "on" not in variants:
        print("no MQTT broker at 127.0.0.1:1883: the 'on' variant is skipped")
    receiver, hole = Receiver(), BlackHole()
    results: dict[str, list[float]] = {v: [] for v in variants}
    delivered: dict[str, dict] = {v: {} for v in variants}
    per_block = max(1, args.visitors // args.blocks)
    for _block in range(args.blocks):
        for variant in variants:
            latencies, info = run(variant, per_block, receiver, hole)
            results[variant] += latencies
            for key, value in info.items():
                delivered[variant][key] = delivered[variant].get(key, 0) + value
    if "on" in variants:
        clear_retained()
    print("decision latency, reading's last byte on a pty -> entry committed, A/B in one run "
          f"({args.blocks} alternating blocks)")
    for variant in variants:
        values = results[variant]
        label = {"off": "door, MQTT, webhook off", "on": "relay + MQTT + webhook on",
                 "dead": "relay on, MQTT + webhook hung"}[variant]
        extra = f"   delivered {delivered[variant]}" if delivered[variant] else ""
        print(f"  {label:<30} n={len(values):4d}  p50 {statistics.median(values):6.2f} ms   "
              f"p90 {percentile(values, 90):6.2f} ms   p99 {percentile(values, 99):6.2f} ms   "
              f"max {max(values):6.2f} ms{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
