"""The live reader on real transports: pseudo-terminals (virtual scanner, replayed recordings), socket://, loop://."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from checkpoint.clock import LiveClock
from checkpoint.config import ScannerConfig
from checkpoint.health import DEGRADED, DOWN, OK, HealthRegistry
from drivers.thermal import open_scanner
from drivers.thermal.base import decode
from drivers.thermal.link import open_port
from drivers.thermal.registry import make_protocol
from drivers.thermal.replay import ReplayDevice

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "serial"
PROTOCOLS = ["ascii", "mlx90640-text", "gy-mcu90640", "modbus-rtu", "optris"]


def hot(collector, value, after=0.0):
    return lambda: any(abs(r.object_c - value) < 0.01 and r.t >= after for r in collector.items)


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reader_gets_visitor_from_virtual_scanner(protocol, virtual, reader_for, collector, registry):
    device = virtual(protocol, idle_c=26.0, idle_interval_s=0.1)
    reader_for(device.path, protocol, baudrate=115200)
    assert collector.wait_for(lambda: len(collector.items) >= 1, 3), "no idle reading"
    device.send_temperature(36.6, 28.0)
    assert collector.wait_for(hot(collector, 36.6), 3)
    reading = collector.readings_where(lambda r: abs(r.object_c - 36.6) < 0.01)[0]
    assert reading.protocol == protocol and reading.sensor_id == "scanner" and reading.body_c == pytest.approx(36.6)
    if protocol in ("ascii", "gy-mcu90640"):
        assert reading.ambient_c == pytest.approx(28.0)
    assert registry.get("scanner").state == OK


@pytest.mark.parametrize("protocol", ["ascii", "modbus-rtu", "gy-mcu90640"])
def test_unplug_is_reported_and_readings_resume_within_two_seconds(protocol, virtual, reader_for, collector, registry):
    device = virtual(protocol, idle_c=26.0, idle_interval_s=0.1)
    options = {"poll_interval_s": 0.1} if protocol == "modbus-rtu" else None
    reader_for(device.path, protocol, baudrate=115200, options=options)
    assert collector.wait_for(lambda: len(collector.items) >= 2, 3)
    device.unplug()
    assert collector.wait_for(lambda: (DOWN, ) == collector.health[-1][:1], 3), collector.health
    assert registry.get("scanner").counters.get("disconnects") == 1
    clock = LiveClock()
    back = clock.now()
    device.replug()
    assert collector.wait_for(lambda: any(r.t > back for r in collector.items), 2.0), "no reading within 2 s of replug"
    first = min(r.t for r in collector.items if r.t > back)
    assert first - back < 2.0
    assert collector.wait_for(lambda: collector.health[-1][0] == OK, 1)


@pytest.mark.slow
def test_corrupt_replies_and_exceptions_are_counted_and_degrade(virtual, reader_for, collector, registry):
    device = virtual("modbus-rtu", idle_c=36.0)
    device.reply_mode = "corrupt"
    reader_for(device.path, "modbus-rtu", options={"poll_interval_s": 0.05, "reply_timeout_s": 0.2})
    assert collector.wait_for(lambda: collector.health and collector.health[-1][0] == DEGRADED, 3)
    assert registry.get("scanner").counters["crc_errors"] >= 1
    device.reply_mode = "silent"
    assert collector.wait_for(lambda: registry.get("scanner").counters.get("timeouts", 0) >= 2, 3)
    device.reply_mode = "ok"
    assert collector.wait_for(lambda: len(collector.items) >= 1 and collector.health[-1][0] == OK, 3)
    counters = registry.get("scanner").counters
    assert counters["crc_errors"] >= 1 and counters["timeouts"] >= 2


def test_silence_beyond_timeout_degrades(virtual, reader_for, collector, registry):
    device = virtual("ascii", idle_c=None)
    reader = reader_for(device.path, "ascii", timeout_s=0.3)
    assert reader.connected.wait(3)
    device.send_temperature(36.5)
    assert collector.wait_for(lambda: len(collector.items) == 1, 3)
    assert collector.wait_for(lambda: collector.health[-1] == (DEGRADED, "no reading for 0.3 s"), 2)
    device.send_temperature(36.9)
    assert collector.wait_for(lambda: collector.health[-1][0] == OK, 2)


def test_garbage_on_the_wire_is_counted_and_reading_follows(virtual, reader_for, collector, registry):
    device = virtual("gy-mcu90640", idle_c=None)
    reader = reader_for(device.path, "gy-mcu90640", baudrate=460800)
    frame = device.protocol.encode(37.1, 27.0)
    assert reader.connected.wait(3)  # bytes written before the port opens are flushed by open()
    device.send_raw(b"\x00\xffnoise\x5a" + frame[:900])
    device.send_raw(b"\x5a" + frame)
    assert collector.wait_for(hot(collector, 37.1), 3)
    assert registry.get("scanner").counters.get("garbage_bytes", 0) >= 1


def test_missing_device_is_down_without_raising(reader_for, collector, registry, tmp_path):
    reader = reader_for(str(tmp_path / "ttyUSB9"), "ascii")
    assert collector.wait_for(lambda: collector.health and collector.health[-1][0] == DOWN, 2)
    assert "device not present" in collector.health[-1][1]
    assert reader.running


def test_callback_errors_do_not_stop_the_reader(virtual, registry):
    device = virtual("ascii", idle_c=26.0, idle_interval_s=0.05)
    calls = []

    def explode(reading):
        calls.append(reading)
        raise RuntimeError("agent bug")

    reader = open_scanner(ScannerConfig(url=device.path), LiveClock(), registry.reporter("scanner"), explode)
    reader.start()
    try:
        deadline = time.monotonic() + 3
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(calls) >= 3 and reader.running
        assert registry.get("scanner").counters["callback_errors"] >= 3
    finally:
        reader.stop()


@pytest.mark.slow
def test_open_scanner_virtual_url_starts_its_own_device(collector, registry):
    config = ScannerConfig(url="virtual", protocol="mlx90640-text", options={"keep_frame": True})
    reader = open_scanner(config, LiveClock(), registry.reporter("scanner"), collector)
    reader.start()
    try:
        assert collector.wait_for(lambda: len(collector.items) >= 1, 3)
        reading = collector.items[0]
        assert reading.object_c == pytest.approx(26.0) and reading.frame.shape == (24, 32)
        reader.set_face_region((0.0, 0.0, 0.1, 0.1))
        reader.set_face_region(None)
    finally:
        reader.stop()


def test_face_region_is_used_live(virtual, reader_for, collector):
    device = virtual("mlx90640-text", idle_c=None)
    reader = reader_for(device.path, "mlx90640-text", baudrate=115200)
    reader.set_face_region((0.0, 0.0, 0.2, 0.2))  # a corner: only background
    assert reader.connected.wait(3)
    device.send_temperature(36.6, 27.0)
    assert collector.wait_for(lambda: len(collector.items) == 1, 3)
    assert collector.items[0].object_c == pytest.approx(27.0)


def test_socket_url_push_and_disconnect(tcp_device, reader_for, collector):
    reader = reader_for(tcp_device.url, "ascii", options={"pattern": "colon"})
    assert tcp_device.connected.wait(3) and reader.connected.wait(3)  # open() drains what came before
    tcp_device.conn.sendall(b"Object:36.60C, Ambient:28.10C\r\n")
    assert collector.wait_for(hot(collector, 36.6), 3)
    tcp_device.conn.close()
    tcp_device.conn = None
    assert collector.wait_for(lambda: collector.health[-1][0] == DOWN, 3)


def test_socket_url_polled_optris(tcp_device, reader_for, collector):
    reader_for(tcp_device.url, "optris", options={"poll_interval_s": 0.05})
    assert tcp_device.connected.wait(3)
    request = tcp_device.conn.recv(16)
    assert request[:1] == b"\x01"
    tcp_device.conn.sendall(bytes.fromhex("05 56"))
    assert collector.wait_for(hot(collector, 36.6), 3)


def test_loop_url_transport_carries_a_frame():
    protocol = make_protocol("gy-mcu90640")
    port = open_port("loop://", 115200)
    try:
        port.write(protocol.encode(36.6, 25.0))
        data = port.read(1544)
    finally:
        port.close()
    frames = list(decode(protocol, protocol.framer(), data))
    assert float(frames[0].frame.max()) == pytest.approx(36.6)


@pytest.mark.slow
def test_real_speed_replay_of_a_noisy_recording_on_a_pty(reader_for, collector, registry):
    with ReplayDevice(FIXTURES / "ascii_noisy.rec") as device:
        reader_for(device.path, "ascii")
        assert collector.wait_for(hot(collector, 36.8), 5)
        assert [r.object_c for r in collector.items] == [36.63, 36.8]
        states = [state for state, _ in collector.health]
        assert DOWN in states and states[-1] == OK
        assert registry.get("scanner").counters.get("garbage_lines") == 1
        assert device.done.wait(2)


@pytest.mark.slow
def test_real_speed_replay_answers_polls(reader_for, collector):
    with ReplayDevice(FIXTURES / "modbus_rtu_noisy.rec", speed=2.0) as device:
        reader_for(device.path, "modbus-rtu", options={"poll_interval_s": 0.1, "reply_timeout_s": 0.15})
        assert collector.wait_for(lambda: len(collector.items) >= 2, 6)
        assert [r.object_c for r in collector.items[:2]] == [36.7, 36.7]


def test_reader_without_start_and_double_stop_are_harmless(registry):
    reader = open_scanner(ScannerConfig(url="loop://", protocol="optris"), LiveClock(),
                          HealthRegistry().reporter("scanner"), lambda r: None)
    reader.stop()
    reader.start()
    reader.stop()
    reader.stop()
    assert not reader.running


def test_spy_url_wraps_a_pty_and_logs_traffic(virtual, reader_for, collector, tmp_path):
    device = virtual("optris", idle_c=36.2)
    log = tmp_path / "spy.txt"
    reader_for(f"spy://{device.path}?file={log}", "optris", options={"poll_interval_s": 0.05})
    assert collector.wait_for(hot(collector, 36.2), 3)
    assert "TX" in log.read_text() or "RX" in log.read_text()


@pytest.mark.slow
def test_refused_connection_backs_off_up_to_the_cap(reader_for, collector, registry):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reader_for(f"socket://127.0.0.1:{port}", "ascii", reconnect_max_s=0.2)
    assert collector.wait_for(lambda: collector.health and collector.health[-1][0] == DOWN, 2)
    assert "cannot open" in collector.health[-1][1]
    started = time.monotonic()
    assert collector.wait_for(lambda: registry.get("scanner").counters.get("open_failures", 0) >= 6, 3)
    assert time.monotonic() - started < 3  # 0.1 + 0.2 + 0.2 ...: the cap holds
    assert len([s for s, _ in collector.health if s == DOWN]) == 1  # logged once per episode
