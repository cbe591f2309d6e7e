"""`checkpoint calibrate`: the offset from a reference's raw readings, refused when they cannot be trusted,
end to end in a real process reading the virtual scanner's pty, with the history it appends."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from checkpoint.calibration import CalibrationError, latest, measure_offset, record
from drivers.thermal.virtual import VirtualScanner

REPO = Path(__file__).resolve().parents[2]


def test_the_offset_brings_the_reference_to_its_temperature():
    result = measure_offset([35.9, 35.95, 35.85, 35.9] * 3, 36.7)
    assert (result.readings, result.raw_mean_c, result.offset_c) == (12, 35.9, 0.8)
    assert result.spread_c == pytest.approx(0.035, abs=0.001)


@pytest.mark.parametrize("readings, message", [
    ([35.9] * 4, "4 readings, at least 10 needed"),
    ([35.0, 36.5] * 6, "spread by 0.75 °C"),
    ([22.0] * 12, "beyond what calibration can correct"),
])
def test_readings_that_cannot_be_trusted_are_refused(readings, message):
    with pytest.raises(CalibrationError, match=message):
        measure_offset(readings, 36.7)


def test_the_history_keeps_every_calibration_and_gives_the_newest(tmp_path):
    assert latest(tmp_path) is None
    record(tmp_path, measure_offset([35.9] * 10, 36.7), "2026-11-01T08:00:00+00:00", "dewi", "ir-1")
    record(tmp_path, measure_offset([36.0] * 10, 36.7), "2026-12-01T08:00:00+00:00", "budi", "ir-1")
    assert [json.loads(line)["by"] for line in (tmp_path / "calibration.jsonl").read_text().splitlines()] == \
        ["dewi", "budi"]
    assert latest(tmp_path)["offset_c"] == pytest.approx(0.7) and latest(tmp_path)["at"].startswith("2026-12-01")


@pytest.mark.slow
def test_calibrate_reads_the_scanner_raw_and_records_the_offset(tmp_path):
    device = VirtualScanner("ascii")
    path = device.start()
    stop = threading.Event()

    def reference() -> None:  # a blackbody at 36.70 °C that the sensor reads about 0.8 °C low
        device.pty.wait_open(stop, timeout=20)
        for i in range(400):
            if stop.wait(0.05):
                return
            device.send_temperature(35.9 + (0.05 if i % 2 else -0.05), 25.0)

    feeder = threading.Thread(target=reference, daemon=True)
    feeder.start()
    config = tmp_path / "gate.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[scanner]\nurl = "{path}"\nprotocol = "ascii"\n'
                      '[scanner.calibration]\nmethod = "offset"\noffset_c = 3.0\n', encoding="utf-8")
    try:
        done = subprocess.run([sys.executable, "-m", "checkpoint", "calibrate", "--reference", "36.7",
                               "--seconds", "3", "--by", "dewi", "-c", str(config)],
                              capture_output=True, text=True, timeout=120, cwd=REPO)
    finally:
        stop.set()
        feeder.join(5)
        device.stop()
    assert done.returncode == 0, done.stderr
    entry = latest(tmp_path)  # read raw: the configured offset of 3.0 played no part
    assert (entry["by"], entry["reference_c"]) == ("dewi", 36.7)
    assert entry["offset_c"] == pytest.approx(0.8, abs=0.02) and entry["readings"] >= 10
    assert entry["raw_mean_c"] == pytest.approx(35.9, abs=0.02)
    assert f"offset {entry['offset_c']:+.2f} °C" in done.stdout
    assert f'method = "offset"\noffset_c = {entry["offset_c"]:.2f}' in done.stdout


def test_the_health_panel_says_when_and_whether_the_offset_in_force_was_measured():
    from datetime import datetime, timezone

    from checkpoint.calibration import calibration_health

    now = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
    entry = {"at": "2026-11-21T08:00:00+00:00", "by": "dewi", "offset_c": 0.8}
    assert calibration_health(entry, 0.8, "offset", now) == \
        ("ok", "offset +0.80 °C, calibrated 12 days ago by dewi")
    state, message = calibration_health(entry, 1.2, "offset", now)
    assert state == "degraded" and "but the configuration has +1.20 °C" in message
    old = {**entry, "at": "2026-10-01T08:00:00+00:00"}
    assert calibration_health(old, 0.8, "offset", now)[0] == "degraded"
    assert calibration_health(None, 0.5, "offset", now) == \
        ("ok", "offset +0.50 °C as configured; no calibration recorded here (checkpoint calibrate)")
    assert calibration_health({"at": "yesterday"}, 0.5, "offset", now)[0] == "degraded"
