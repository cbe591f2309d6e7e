"""Faults in the reader's own callers never stop it: a failing recording tap, a failing reading callback."""

from __future__ import annotations

import logging

from polling import wait_until

from checkpoint.clock import LiveClock
from checkpoint.config import ScannerConfig
from drivers.thermal.reader import ScannerReader
from drivers.thermal.registry import make_protocol


def test_failing_tap_stops_recording_not_reading(virtual, registry, collector):
    device = virtual("ascii", {"pattern": "number"}, idle_c=None)

    def full_disk(direction, t, payload):
        raise OSError(28, "No space left on device")

    config = ScannerConfig(url=device.path, protocol="ascii", options={"pattern": "number"})
    reader = ScannerReader(config, LiveClock(), registry.reporter("scanner"), collector,
                           make_protocol("ascii", {"pattern": "number"}), tap=full_disk).start()
    try:
        assert reader.connected.wait(3)
        device.send_temperature(36.5)
        device.send_temperature(36.6)
        assert collector.wait_for(lambda: len(collector.items) >= 2)
        assert reader.running
        assert reader.tap is None
        assert registry.get("scanner").counters["tap_errors"] == 1
    finally:
        reader.stop()


def test_failing_callback_is_logged_once_and_counted(virtual, registry, caplog):
    device = virtual("ascii", {"pattern": "number"}, idle_c=None)
    calls = []

    def broken(reading):
        calls.append(reading)
        raise RuntimeError("agent bug")

    config = ScannerConfig(url=device.path, protocol="ascii", options={"pattern": "number"})
    reader = ScannerReader(config, LiveClock(), registry.reporter("scanner"), broken,
                           make_protocol("ascii", {"pattern": "number"})).start()
    try:
        assert reader.connected.wait(3)
        with caplog.at_level(logging.ERROR, logger="drivers.thermal.reader"):
            for temp in (36.5, 36.6, 36.7):
                device.send_temperature(temp)
            deadline_ok = wait_until(lambda: len(calls) >= 3, timeout=3.0)
        assert deadline_ok
        assert registry.get("scanner").counters["callback_errors"] == 3
        assert sum("callback failed" in r.getMessage() for r in caplog.records) == 1
    finally:
        reader.stop()


