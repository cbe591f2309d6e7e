"""The two serial relays, on ``serial.serial_for_url`` like the scanners.

``lcus``: CH340 "LCUS" boards take ``A0 <channel> <state> <checksum>`` at
9600 baud, checksum = the sum of the first three bytes & 0xFF
(``A0 01 01 A2`` closes relay 1, ``A0 01 00 A1`` opens it). They never
answer, so a write that reaches the port is all that can be checked; a
vanished or dead port is a fault.

``modbus-rtu``: write single coil (function 0x05) ``slave 05 coil(2)
FF00|0000 CRC``; the module echoes the request. The echo is read back and
must match byte for byte; a bad CRC, a silent module or a cut reply is
retried ``retries`` times, an exception reply (function | 0x80) is a fault
at once. CRC-16/MODBUS and the 3.5-character gap are the scanner driver's.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import serial

from drivers.door.base import Relay, RelayFault
from drivers.thermal.link import close_port, device_missing, open_port
from drivers.thermal.protocols.modbus_rtu import EXCEPTIONS, crc16, gap_s, with_crc

LOST = (serial.SerialException, OSError)


def lcus_frame(channel: int, on: bool) -> bytes:
    head = bytes([0xA0, channel, 1 if on else 0])
    return head + bytes([sum(head) & 0xFF])


def coil_request(slave: int, coil: int, on: bool) -> bytes:
    return with_crc(bytes([slave, 0x05]) + coil.to_bytes(2, "big") + (b"\xff\x00" if on else b"\x00\x00"))


class SerialRelay(Relay):
    def __init__(self, url: str, baudrate: int, on_stop: Optional[Callable[[], None]] = None) -> None:
        super().__init__(on_stop)
        self.url, self.baudrate = url, baudrate
        self._port: Optional[serial.SerialBase] = None

    @property
    def where(self) -> str:
        return self.url

    def connect(self) -> None:
        self._opened()

    def _opened(self) -> serial.SerialBase:
        """The open port, opened first if it is not (RelayFault when it cannot be)."""
        if self._port is None:
            if device_missing(self.url):
                raise RelayFault("absent", f"{self.url}: device not present")
            try:
                self._port = open_port(self.url, self.baudrate)
            except (ValueError, *LOST) as exc:
                raise RelayFault("open_failures", f"cannot open {self.url}: {exc}") from exc
        return self._port

    def disconnect(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                close_port(port)
            except LOST:
                pass

    def _write(self, data: bytes) -> None:
        port = self._opened()
        if device_missing(self.url):
            raise RelayFault("disconnects", f"{self.url}: device not present")
        try:
            port.write(data)
            port.flush()
        except LOST as exc:
            raise RelayFault("disconnects", f"lost {self.url}: {exc}") from exc


class LcusRelay(SerialRelay):
    key = "lcus"

    def __init__(self, url: str, baudrate: int = 9600, channel: int = 1, **kwargs) -> None:
        super().__init__(url, baudrate, **kwargs)
        self.channel = channel

    def set(self, on: bool) -> None:
        self._write(lcus_frame(self.channel, on))


class ModbusRelay(SerialRelay):
    key = "modbus-rtu"

    def __init__(self, url: str, baudrate: int = 9600, slave: int = 1, channel: int = 0,
                 reply_timeout_s: float = 0.5, retries: int = 1, **kwargs) -> None:
        super().__init__(url, baudrate, **kwargs)
        self.slave, self.coil, self.reply_timeout_s, self.retries = slave, channel, reply_timeout_s, retries

    def set(self, on: bool) -> None:
        request = coil_request(self.slave, self.coil, on)
        fault: Optional[RelayFault] = None
        for _attempt in range(self.retries + 1):
            try:
                self._transaction(request)
                return
            except RelayFault as exc:
                if exc.kind in ("exception_replies", "disconnects"):
                    raise
                fault = exc
        assert fault is not None
        raise fault

    def _transaction(self, request: bytes) -> None:
        port = self._opened()
        try:
            port.reset_input_buffer()  # a late echo of an earlier try is not this one's
        except LOST as exc:
            raise RelayFault("disconnects", f"lost {self.url}: {exc}") from exc
        time.sleep(gap_s(self.baudrate))
        self._write(request)
        reply = self._read_reply(port)
        if crc16(reply[:-2]) != int.from_bytes(reply[-2:], "little"):
            raise RelayFault("crc_errors", f"bad CRC in reply {reply.hex(' ')}")
        if reply[1] == 0x85:
            code = reply[2]
            raise RelayFault("exception_replies", f"exception {code}: {EXCEPTIONS.get(code, 'unknown')}")
        if reply != request:
            raise RelayFault("bad_replies", f"reply {reply.hex(' ')} is not the echo of {request.hex(' ')}")

    def _read_reply(self, port: serial.SerialBase) -> bytes:
        """Our slave's reply: 8 bytes (the echo) or 5 (an exception); stray bytes before it are skipped."""
        buf = bytearray()
        deadline = time.monotonic() + self.reply_timeout_s
        while time.monotonic() < deadline:
            try:
                buf += port.read(max(1, port.in_waiting))
            except LOST as exc:
                raise RelayFault("disconnects", f"lost {self.url}: {exc}") from exc
            while buf and buf[0] != self.slave:
                del buf[0]
            if len(buf) >= 2:
                size = 5 if buf[1] & 0x80 else 8
                if len(buf) >= size:
                    return bytes(buf[:size])
        if buf:
            raise RelayFault("length_errors", f"cut reply {bytes(buf).hex(' ')}")
        raise RelayFault("timeouts", f"no reply within {self.reply_timeout_s:g} s")
