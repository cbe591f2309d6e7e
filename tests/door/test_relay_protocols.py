"""Each door relay driver, byte for byte, over real transports: pseudo-terminals and a local HTTP server."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from checkpoint.config import load_settings
from drivers.door import open_relay
from drivers.door.base import RelayFault
from drivers.door.http_relay import HttpRelay
from drivers.door.serial_relay import LcusRelay, ModbusRelay, coil_request, lcus_frame
from drivers.door.virtual import VirtualRelay
from drivers.thermal.protocols.modbus_rtu import with_crc
from drivers.thermal.pty_device import PtyDevice


@pytest.fixture
def pty():
    device = PtyDevice("relay")
    device.start()
    yield device
    device.stop()


def received(device: PtyDevice, size: int, timeout: float = 2.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < size and time.monotonic() < deadline:
        data += device.read(0.05)
    return data


# -- LCUS ------------------------------------------------------------------------------

def test_lcus_frames_are_a0_channel_state_sum():
    assert lcus_frame(1, True) == bytes.fromhex("A0 01 01 A2")
    assert lcus_frame(1, False) == bytes.fromhex("A0 01 00 A1")
    assert lcus_frame(4, True) == bytes.fromhex("A0 04 01 A5")
    assert lcus_frame(8, False) == bytes.fromhex("A0 08 00 A8")


def test_lcus_driver_writes_exact_bytes_on_the_pty(pty):
    relay = LcusRelay(pty.path, channel=2)
    relay.connect()
    try:
        relay.set(True)
        assert received(pty, 4) == bytes.fromhex("A0 02 01 A3")
        relay.set(False)
        assert received(pty, 4) == bytes.fromhex("A0 02 00 A2")
    finally:
        relay.stop()


def test_lcus_on_an_unplugged_port_is_a_fault_not_a_crash(pty):
    relay = LcusRelay(pty.path)
    relay.connect()
    pty.unplug()
    with pytest.raises(RelayFault) as fault:
        relay.set(True)
    assert fault.value.kind == "disconnects"
    relay.disconnect()
    with pytest.raises(RelayFault) as fault:
        relay.connect()
    assert fault.value.kind == "absent" and "not present" in fault.value.message


def test_virtual_relay_takes_lcus_and_ignores_a_bad_checksum():
    with VirtualRelay("lcus") as device:
        relay = LcusRelay(device.path, channel=3)
        relay.connect()
        relay.set(True)
        assert device.wait_for(lambda: device.states.get(3) is True)
        relay._port.write(bytes.fromhex("A0 03 00 00"))  # wrong sum: a real board ignores it
        relay.set(False)
        assert device.wait_for(lambda: device.states.get(3) is False)
        assert device.frames == [bytes.fromhex("A0 03 01 A4"), bytes.fromhex("A0 03 00 00"),
                                 bytes.fromhex("A0 03 00 A3")]
        assert device.rejected == [bytes.fromhex("A0 03 00 00")]
        assert [state for _t, _channel, state in device.changes] == [True, False]
        relay.stop()


# -- Modbus RTU ------------------------------------------------------------------------

def test_modbus_write_single_coil_request_and_crc():
    assert coil_request(1, 0, True) == bytes.fromhex("01 05 00 00 FF 00 8C 3A")
    assert coil_request(1, 0, False) == bytes.fromhex("01 05 00 00 00 00 CD CA")
    # bitwise CRC-16/MODBUS, worked out apart
    assert coil_request(2, 3, True) == bytes.fromhex("02 05 00 03 FF 00 7C 09")


def answer_once(device: PtyDevice, reply_for) -> threading.Thread:
    """A device that reads one 8-byte request and writes ``reply_for(request)`` (None: stays silent)."""
    def serve():
        request = received(device, 8)
        reply = reply_for(request)
        if reply:
            device.write(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_modbus_driver_sends_exact_bytes_and_takes_the_echo(pty):
    seen = []
    relay = ModbusRelay(pty.path, slave=1, channel=0, retries=0)
    thread = answer_once(pty, lambda request: seen.append(request) or request)
    relay.set(True)
    thread.join(2)
    assert seen == [bytes.fromhex("01 05 00 00 FF 00 8C 3A")]
    relay.stop()


@pytest.mark.parametrize("reply, kind", [
    (lambda r: r[:-1] + bytes([r[-1] ^ 0x01]), "crc_errors"),  # the echo with a bad CRC
    (lambda r: with_crc(bytes([1, 0x85, 2])), "exception_replies"),  # illegal data address
    (lambda r: with_crc(r[:4] + b"\x00\x00"), "bad_replies"),  # a valid frame, but not the echo
    (lambda r: None, "timeouts"),  # silence
    (lambda r: r[:5], "length_errors"),  # a cut reply
])
def test_modbus_bad_replies_are_faults(pty, reply, kind):
    relay = ModbusRelay(pty.path, slave=1, channel=0, reply_timeout_s=0.3, retries=0)
    thread = answer_once(pty, reply)
    with pytest.raises(RelayFault) as fault:
        relay.set(True)
    thread.join(2)
    assert fault.value.kind == kind, fault.value.message
    relay.stop()


def test_modbus_exception_message_names_the_code(pty):
    relay = ModbusRelay(pty.path, retries=3, reply_timeout_s=0.3)
    thread = answer_once(pty, lambda r: with_crc(bytes([1, 0x85, 2])))
    start = time.monotonic()
    with pytest.raises(RelayFault, match="exception 2: illegal data address"):
        relay.set(False)
    assert time.monotonic() - start < 0.3  # an exception is the device's answer: not retried
    thread.join(2)
    relay.stop()


def test_modbus_retries_a_lost_reply_then_succeeds():
    with VirtualRelay("modbus-rtu", slave=7) as device:
        relay = ModbusRelay(device.path, slave=7, channel=5, reply_timeout_s=0.2, retries=1)
        device.reply_mode = "silent"
        with pytest.raises(RelayFault) as fault:
            relay.set(True)
        assert fault.value.kind == "timeouts"
        assert device.wait_for(lambda: len(device.frames) == 2)  # the try and one retry
        device.reply_mode = "ok"
        relay.set(False)
        assert device.states == {5: False} and device.frames[-1] == bytes.fromhex("07 05 00 05 00 00") + \
            coil_request(7, 5, False)[-2:]
        relay.stop()


@pytest.mark.parametrize("mode, kind", [("corrupt", "crc_errors"), ("exception", "exception_replies")])
def test_virtual_modbus_relay_broken_modes(mode, kind):
    with VirtualRelay("modbus-rtu") as device:
        relay = ModbusRelay(device.path, reply_timeout_s=0.3, retries=0)
        device.reply_mode = mode
        with pytest.raises(RelayFault) as fault:
            relay.set(True)
        assert fault.value.kind == kind
        relay.stop()


def test_virtual_modbus_relay_answers_a_coil_beyond_its_relays_with_exception_2():
    with VirtualRelay("modbus-rtu", channels=4) as device:
        relay = ModbusRelay(device.path, channel=4, retries=0)
        with pytest.raises(RelayFault, match="exception 2"):
            relay.set(True)
        relay.stop()


def test_open_relay_virtual_url_starts_the_virtual_relay():
    settings = load_settings(environ={}, overrides={"door": {"mode": "pulse", "relay": {"driver": "modbus-rtu"}}})
    relay = open_relay(settings.door.relay)
    try:
        relay.set(True)
        relay.set(False)
    finally:
        relay.stop()


# -- HTTP --------------------------------------------------------------------------------

class Recorder(http.server.BaseHTTPRequestHandler):
    requests: list = []
    status = 200
    delay_s = 0.0

    def do_GET(self):  # noqa: N802
        type(self).requests.append((self.command, self.path))
        time.sleep(type(self).delay_s)
        body = b'{"was_on": false}'
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Recorder.requests, Recorder.status, Recorder.delay_s = [], 200, 0.0
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.slow
def test_http_relay_shelly_switch_set(server):
    port = server.server_address[1]
    relay = HttpRelay(f"http://127.0.0.1:{port}/rpc/Switch.Set?id={{channel}}&on={{on}}&toggle_after={{open_s}}",
                      channel=0, open_s=3.0)
    relay.set(True)
    relay.set(False)
    assert Recorder.requests == [("GET", "/rpc/Switch.Set?id=0&on=true&toggle_after=3"),
                                 ("GET", "/rpc/Switch.Set?id=0&on=false&toggle_after=3")]


@pytest.mark.slow
def test_http_relay_tasmota_template_and_post(server):
    port = server.server_address[1]
    HttpRelay(f"http://127.0.0.1:{port}/cm?cmnd=Power{{channel}}%20{{state}}", method="POST", channel=1).set(True)
    assert Recorder.requests == [("POST", "/cm?cmnd=Power1%201")]


@pytest.mark.slow
def test_http_relay_faults(server):
    port = server.server_address[1]
    relay = HttpRelay(f"http://127.0.0.1:{port}/relay?on={{on}}", timeout_s=0.3)
    Recorder.status = 500
    with pytest.raises(RelayFault) as fault:
        relay.set(True)
    assert fault.value.kind == "http_errors" and "HTTP 500" in fault.value.message
    Recorder.status, Recorder.delay_s = 200, 1.0
    with pytest.raises(RelayFault) as fault:
        relay.set(True)
    assert fault.value.kind == "timeouts"


def test_http_relay_unreachable_and_bad_template():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(RelayFault) as fault:
        HttpRelay(f"http://127.0.0.1:{port}/relay?on={{on}}", timeout_s=0.5).set(True)
    assert fault.value.kind == "unreachable"
    with pytest.raises(ValueError, match="unknown placeholder"):
        HttpRelay("http://relay/{channle}")


def test_http_relay_messages_hide_the_password():
    relay = HttpRelay("http://admin:hunter2@127.0.0.1:9/rpc/Switch.Set?id={channel}&on={on}")
    assert "hunter2" not in relay.where


# -- GPIO ----------------------------------------------------------------------------------

def test_gpio_without_gpiod_is_a_clear_fault():
    try:
        import gpiod  # noqa: F401
        pytest.skip("gpiod is installed here")
    except ImportError:
        pass
    from drivers.door.gpio import GpioRelay

    with pytest.raises(RelayFault) as fault:
        GpioRelay().connect()
    assert fault.value.kind == "missing"
    assert "pip install 'checkpoint-gate[gpio]'" in fault.value.message
