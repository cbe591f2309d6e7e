"""Thermal driver benchmark: parsing throughput per protocol and pty-to-dataclass latency.

    .venv/bin/python bench/bench_thermal.py [--messages N] [--latency-samples N]

Throughput: a stream of N encoded messages is fed in 4 KiB chunks through the
protocol's real framer, parser and calibrator (bytes -> ThermalReading), no I/O.
Latency: the live reader runs on a pseudo-terminal; for each sample the device
end writes one message (push) or answers one poll (polled), and the time from
just before the write of the message's last byte to the reader's on_reading
callback is measured (perf_counter). Reports p50/p99.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkpoint.clock import LiveClock  # noqa: E402
from checkpoint.config import ScannerConfig  # noqa: E402
from checkpoint.health import HealthRegistry  # noqa: E402
from drivers.thermal.base import Fault  # noqa: E402
from drivers.thermal.calibrate import Calibrator  # noqa: E402
from drivers.thermal.pty_device import PtyDevice  # noqa: E402
from drivers.thermal.reader import ScannerReader  # noqa: E402
from drivers.thermal.registry import make_protocol, protocol_keys  # noqa: E402

CHUNK = 4096


def messages_for(protocol, n: int) -> list[bytes]:
    values = [34.0 + (i % 60) / 10 for i in range(n)]
    if protocol.polled:
        request = protocol.poll_request()
        return [protocol.answer(request, v)[0] for v in values]
    return [protocol.encode(v, 27.0) for v in values]


def throughput(key: str, n: int) -> tuple[float, float, int]:
    protocol = make_protocol(key)
    calibrator = Calibrator(ScannerConfig(protocol=key), protocol)
    messages = messages_for(protocol, n)
    framer = protocol.framer(115200)
    readings = 0
    start = time.perf_counter()
    if protocol.polled:  # one transaction per reply, as on the wire
        for message in messages:
            framer.start_transaction()
            for framed in framer.feed(message):
                if not isinstance(framed, Fault):
                    readings += calibrator.reading(protocol.parse(framed), 0.0) is not None
    else:
        stream = b"".join(messages)
        for i in range(0, len(stream), CHUNK):
            for framed in framer.feed(stream[i:i + CHUNK]):
                if not isinstance(framed, Fault):
                    result = protocol.parse(framed)
                    readings += result is not None and calibrator.reading(result, 0.0) is not None
    elapsed = time.perf_counter() - start
    assert readings == n, (key, readings, n)
    total = sum(len(m) for m in messages)
    return n / elapsed, total / elapsed / 1e6, total // n


def latency(key: str, samples: int) -> list[float]:
    polled = key in ("modbus-rtu", "optris")
    protocol = make_protocol(key, {"poll_interval_s": 0.01, "reply_timeout_s": 0.2} if polled else None)
    device = PtyDevice("bench")
    path = device.start()
    done = threading.Event()
    arrived: list[float] = []
    written = [0.0]

    def on_reading(reading) -> None:
        arrived.append(time.perf_counter())
        done.set()

    config = ScannerConfig(url=path, protocol=key, baudrate=115200, options=protocol.options.model_dump(by_alias=True))
    reader = ScannerReader(config, LiveClock(), HealthRegistry().reporter("scanner"), on_reading, protocol).start()
    results: list[float] = []
    try:
        if not reader.connected.wait(5):
            raise RuntimeError("reader did not open the pty")
        for i in range(samples):
            done.clear()
            value = 35.0 + (i % 30) / 10
            if protocol.polled:
                request = b""
                while not request:
                    request = device.read(1.0)
                message, _ = protocol.answer(request, value)
            else:
                message = protocol.encode(value, 27.0)
                if key == "ascii":  # the reading ends with its own line; the *F and empty lines follow it
                    message = message[:message.index(b"\n") + 1]
            device.write(message[:-1])
            written[0] = time.perf_counter()  # the clock starts as the last byte goes out
            device.write(message[-1:])
            if not done.wait(2.0):
                raise RuntimeError(f"{key}: no reading for sample {i}")
            results.append(arrived[-1] - written[0])
    finally:
        reader.stop()
        device.stop()
    return results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--latency-samples", type=int, default=200)
    args = parser.parse_args()
    rows = []
    for key in protocol_keys():
        n = args.messages if key not in ("mlx90640-text", "gy-mcu90640") else max(args.messages // 20, 100)
        rate, mbps, size = throughput(key, n)
        lat = latency(key, args.latency_samples)
        rows.append((key, size, n, rate, mbps, percentile(lat, 0.5) * 1e3, percentile(lat, 0.99) * 1e3,
                     statistics.mean(lat) * 1e3))
    print(f"{'protocol':<14} {'bytes/msg':>9} {'msgs':>6} {'msgs/s':>10} {'MB/s':>7} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'mean ms':>7}")
    for key, size, n, rate, mbps, p50, p99, mean in rows:
        print(f"{key:<14} {size:>9} {n:>6} {rate:>10,.0f} {mbps:>7.2f} {p50:>7.2f} {p99:>7.2f} {mean:>7.2f}")
    print(f"\nlatency: {args.latency_samples} samples per protocol, last byte written to a pty -> ThermalReading "
          f"callback; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
