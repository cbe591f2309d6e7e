"""Scanner input that must not become a reading or a fault storm (issue 13, Low: scanner input).

* ``pattern = "auto"``: a noise line that is a bare number is not a reading;
* Modbus: one reply with a bad CRC is one fault, ``crc_errors``, and does not degrade the scanner;
* Optris: a reply one byte too long is a framing fault, never decoded; late bytes are discarded;
* ``scanner replay`` waits for the reader to open the port before it plays.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from checkpoint.clock import LiveClock
from checkpoint.config import ScannerConfig
from checkpoint.health import OK
from checkpoint.messages import ThermalReading
from drivers.thermal.base import Fault, Sample, decode
from drivers.thermal.pty_device import PtyDevice
from drivers.thermal.reader import ScannerReader
from drivers.thermal.recording import Header, RecordingWriter
from drivers.thermal.registry import make_protocol
from drivers.thermal.replay import ReplayDevice, iter_recording

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "serial"
REPO = Path(__file__).resolve().parents[2]
ADAFRUIT = b"Ambient = 24.51*C\tObject = 36.63*C\r\nAmbient = 76.12*F\tObject = 97.93*F\r\n\r\n"
GOOD_MODBUS = bytes.fromhex("01 03 02 01 6F F9 F8")  # 36.7 °C
BAD_MODBUS = bytes.fromhex("01 03 02 01 6F F9 F9")


def objects(results):
    return [round(r.object_c, 2) for r in results if isinstance(r, Sample)]


def kinds(results):
    return [r.kind for r in results if isinstance(r, Fault)]


def write_recording(path: Path, protocol: str, events, options=None) -> Path:
    writer = RecordingWriter(path, Header(port="/dev/ttyUSB0", baudrate=9600, protocol=protocol,
                                          options=options or {}), 0.0)
    for offset, direction, payload in events:
        writer.tap(direction, offset, payload)
    writer.close()
    return path


def fast_replay(path: Path, protocol: str):
    counts: dict[str, int] = {}
    events = list(iter_recording(path, ScannerConfig(protocol=protocol), 0.0, counts))
    return [round(e.object_c, 2) for e in events if isinstance(e, ThermalReading)], counts


# --- ascii, pattern = "auto" -------------------------------------------------------------

def test_auto_ignores_bare_numbers_once_it_reads_labelled_lines():
    auto = make_protocol("ascii")
    results = list(decode(auto, auto.framer(), ADAFRUIT + b"3\r\n37\r\n37.5\r\n-3.25\r\nnan\r\n" + ADAFRUIT))
    assert objects(results) == [36.63, 36.63]
    assert kinds(results) == []


def test_auto_takes_a_bare_number_stream_only_with_a_decimal_point():
    auto = make_protocol("ascii")
    results = list(decode(auto, auto.framer(), b"3\r\n37\r\n36.60\r\n37.25\r\nnan\r\n"))
    assert objects(results) == [36.6, 37.25]
    assert kinds(results) == ["failed_reads"]  # a float sensor's failed read still counts
    # a labelled line later locks the stream: bare numbers are noise from then on
    results = list(decode(auto, auto.framer(), b"Object:36.90C, Ambient:28.20C\r\n36.70\r\n"))
    assert objects(results) == [36.9]


def test_explicit_number_pattern_is_unchanged():
    number = make_protocol("ascii", {"pattern": "number"})
    assert objects(decode(number, number.framer(), b"37\r\n36.5\r\n")) == [37.0, 36.5]


def test_noise_numbers_in_an_mlx90614_stream_give_no_reading(tmp_path):
    path = write_recording(tmp_path / "noise.rec", "ascii", [
        (0.1, "<", b"Adafruit MLX90614 test\r\n"),
        (0.5, "<", ADAFRUIT),
        (0.7, "<", b"3\r\n"),
        (0.8, "<", b"37\r\n"),
        (1.0, "<", ADAFRUIT.replace(b"36.63", b"36.80")),
    ])
    assert fast_replay(path, "ascii") == ([36.63, 36.8], {})


# --- Modbus RTU: one bad reply, one fault ------------------------------------------------------

def test_one_bad_crc_reply_is_one_crc_fault():
    protocol = make_protocol("modbus-rtu")
    framer = protocol.framer()
    framer.start_transaction()
    assert kinds(decode(protocol, framer, BAD_MODBUS)) == ["crc_errors"]
    assert framer.start_transaction() == []  # its bytes are not a cut reply either
    assert objects(decode(protocol, framer, GOOD_MODBUS)) == [36.7]


def test_garbage_after_a_bad_reply_still_counts():
    protocol = make_protocol("modbus-rtu")
    framer = protocol.framer()
    framer.start_transaction()
    results = list(decode(protocol, framer, BAD_MODBUS + b"\x55\x66"))
    assert kinds(results) == ["crc_errors", "garbage_bytes"]
    assert "2 bytes" in [r.detail for r in results if r.kind == "garbage_bytes"][0]


def test_fast_replay_of_one_bad_crc_reply(tmp_path):
    poll = make_protocol("modbus-rtu").poll_request()
    path = write_recording(tmp_path / "crc.rec", "modbus-rtu", [
        (0.0, ">", poll), (0.012, "<", GOOD_MODBUS),
        (0.5, ">", poll), (0.512, "<", BAD_MODBUS),
        (1.0, ">", poll), (1.012, "<", GOOD_MODBUS),
    ])
    assert fast_replay(path, "modbus-rtu") == ([36.7, 36.7], {"crc_errors": 1})


class ScriptedDevice:
    """A polled device on a pty: each request gets the next scripted reply, a list of (delay_s, bytes)."""

    def __init__(self, replies, default) -> None:
        self.replies, self.default = list(replies), default
        self.pty = PtyDevice("scripted")
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "ScriptedDevice":
        self.pty.start()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(2)
        self.pty.stop()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if not self.pty.read(0.02):
                continue
            reply = self.replies.pop(0) if self.replies else self.default
            for delay, data in reply:
                time.sleep(delay)
                self.pty.write(data)
            self.answered += 1


def start_reader(url: str, protocol: str, registry, collector, **options) -> ScannerReader:
    config = ScannerConfig(url=url, protocol=protocol, options=options)
    return ScannerReader(config, LiveClock(), registry.reporter("scanner"), collector,
                         make_protocol(protocol, options)).start()


def test_live_reader_counts_a_bad_crc_reply_once_and_stays_ok(registry, collector):
    good = [(0.002, GOOD_MODBUS)]
    with ScriptedDevice([good, good, [(0.002, BAD_MODBUS)]], good) as device:
        reader = start_reader(device.pty.path, "modbus-rtu", registry, collector, poll_interval_s=0.1)
        try:
            assert collector.wait_for(lambda: len(collector.items) >= 4, 5)
        finally:
            reader.stop()
    health = registry.get("scanner")
    assert health.counters.get("crc_errors") == 1
    assert not {"garbage_bytes", "timeouts", "length_errors"} & set(health.counters)
    assert [state for state, _ in collector.health] == [OK]  # never degraded by the one bad reply


# --- Optris: exactly two bytes in a reply's window -----------------------------------------------

def test_optris_reply_one_byte_too_long_is_a_framing_fault():
    protocol = make_protocol("optris")
    framer = protocol.framer()
    framer.start_transaction()
    results = list(decode(protocol, framer, bytes.fromhex("05 56 04"), 0.0)) + list(decode(protocol, framer, b"", 1.0))
    assert objects(results) == [] and kinds(results) == ["length_errors"]
    # the same, with the third byte in a chunk of its own within the window
    framer.start_transaction()
    results = (list(decode(protocol, framer, bytes.fromhex("05 56"), 2.0))
               + list(decode(protocol, framer, b"\x04", 2.005)) + list(decode(protocol, framer, b"", 3.0)))
    assert objects(results) == [] and kinds(results) == ["length_errors"]


def test_optris_late_byte_is_discarded_not_decoded(tmp_path):
    path = write_recording(tmp_path / "late.rec", "optris", [
        (0.0, ">", b"\x01"), (0.004, "<", b"\x05\x56"),
        (0.1, "<", b"\x04"),  # late, after the reply's window closed: discarded
        (0.5, ">", b"\x01"), (0.501, "<", b"\x04"), (0.504, "<", b"\x05\x56"),  # stray byte in the next window
        (1.0, ">", b"\x01"), (1.004, "<", b"\x05\x5a"),
    ])
    readings, counts = fast_replay(path, "optris")
    assert readings == [36.6, 37.0]  # never 2.9 (bytes 04 05)
    assert counts == {"stray_bytes": 1, "length_errors": 1}


@pytest.mark.slow
def test_live_reader_never_decodes_a_late_byte(registry, collector):
    with ScriptedDevice([
        [(0.002, b"\x05\x56")],
        [(0.002, b"\x05\x56\x04")],  # one byte too many
        [(0.002, b"\x05\x56"), (0.08, b"\x04")],  # a late byte, read before the next request
        [(0.002, b"\x05\x56"), (0.03, b"\x04")],  # a late byte, after a silence, before the reader looked again
    ], [(0.002, b"\x05\x5a")]) as device:
        reader = start_reader(device.pty.path, "optris", registry, collector, poll_interval_s=0.25)
        try:
            assert collector.wait_for(lambda: any(r.object_c == 37.0 for r in collector.items), 5)
        finally:
            reader.stop()
    values = sorted({r.object_c for r in collector.items})
    assert values == [36.6, 37.0], values
    counters = registry.get("scanner").counters
    assert counters.get("length_errors") == 1 and counters.get("stray_bytes") == 2
    assert "timeouts" not in counters  # a reply too long was answered: not also a timeout


# --- scanner replay waits for the reader -----------------------------------------------------------

@pytest.mark.slow
def test_replay_device_waits_for_the_reader_to_open_the_port(registry, collector):
    with ReplayDevice(FIXTURES / "ascii_adafruit.rec") as device:
        time.sleep(1.2)  # the first readings are due at 0.5-1.0 s: a reader that opens later must still get them
        reader = start_reader(device.path, "ascii", registry, collector)
        try:
            assert collector.wait_for(lambda: len(collector.items) >= 4, 6)
        finally:
            reader.stop()
    assert [r.object_c for r in collector.items] == [33.02, 36.63, 36.7, 37.81]
    assert device.done.is_set()


@pytest.mark.slow
def test_scanner_replay_command_waits_for_the_reader(tmp_path, registry, collector):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "checkpoint", "scanner", "replay",
                             str(FIXTURES / "ascii_colon.rec")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        path = proc.stdout.readline().strip()
        time.sleep(1.0)  # past the whole recording
        reader = start_reader(path, "ascii", registry, collector, pattern="colon")
        try:
            assert collector.wait_for(lambda: len(collector.items) >= 2, 6)
        finally:
            reader.stop()
        assert proc.wait(10) == 0
        assert "waiting for a reader to open the port" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    assert [r.object_c for r in collector.items] == [36.6, 36.9]
