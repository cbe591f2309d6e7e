"""``modbus-rtu``: RS-485 pyrometers polled over Modbus RTU (e.g. Calex PyroUSB).

Request: ``slave, function (03 holding / 04 input), register hi lo, count hi lo,
CRC lo hi``. Reply: ``slave, function, byte count, data..., CRC lo hi``; an
exception reply sets bit 7 of the function code and carries one code byte.
CRC-16/MODBUS: init 0xFFFF, reflected poly 0xA001, sent low byte first.
Temperature = register (signed by default) x ``scale``; with
``reference_register`` a second register holds a blackbody sensor's value.
The reader keeps 3.5 character times of silence before each request.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from drivers.thermal.base import CommonOptions, Fault, Framer, Message, Result, Sample, ScannerProtocol
from drivers.thermal.registry import register

EXCEPTIONS = {1: "illegal function", 2: "illegal data address", 3: "illegal data value",
              4: "slave device failure", 5: "acknowledge", 6: "slave device busy"}


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS: init 0xFFFF, reflected polynomial 0xA001 (table-driven)."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc


def with_crc(data: bytes) -> bytes:
    return data + crc16(data).to_bytes(2, "little")


def gap_s(baudrate: int) -> float:
    """3.5 character times (11 bits each); fixed 1.75 ms above 19200 baud."""
    return 1.75e-3 if baudrate > 19200 else 3.5 * 11 / baudrate


class ModbusOptions(CommonOptions):
    slave: int = Field(1, ge=1, le=247, description="Slave address.")
    function: Literal[3, 4] = Field(3, description="03 read holding registers, 04 read input registers.")
    address: int = Field(0x12, ge=0, le=0xFFFF, alias="register", description="Register holding the temperature.")
    reference_register: Optional[int] = Field(None, ge=0, le=0xFFFF, description="Register of a blackbody sensor.")
    scale: float = Field(0.1, description="°C per register unit.")
    signed: bool = Field(True, description="Register is a signed 16-bit value.")
    poll_interval_s: float = Field(0.5, gt=0, le=60, description="Seconds between requests for a reading.")
    reply_timeout_s: float = Field(0.3, gt=0, le=10, description="A request not answered in this time is a timeout.")


class ModbusFramer(Framer):
    """Find ``slave, function`` and take a complete reply by its length; resync on bad CRC.

    A reply with a bad CRC is one fault (``crc_errors``). The framer then looks
    for a good reply inside it, byte by byte (noise that looks like a header may
    hide the real reply behind it), but the bytes it skips there belong to the
    damaged reply and are not counted again as garbage or as a cut reply.
    """

    def __init__(self, slave: int, function: int) -> None:
        self.slave, self.function = slave, function
        self._buf = bytearray()
        self._damaged = 0  # bytes at the head of the buffer that belong to a reply already counted as a CRC error

    def _drop(self, n: int) -> int:
        """Remove ``n`` bytes from the head; returns how many of them were not part of a damaged reply."""
        del self._buf[:n]
        quiet = min(n, self._damaged)
        self._damaged -= quiet
        return n - quiet

    def feed(self, data: bytes, t: float = 0.0) -> list[Message]:
        out: list[Message] = []
        buf = self._buf
        buf += data
        while buf:
            if buf[0] != self.slave or (len(buf) > 1 and buf[1] & 0x7F != self.function):
                skip = 1
                while skip < len(buf) and buf[skip] != self.slave:
                    skip += 1
                loud = self._drop(skip)
                if loud:
                    out.append(Fault("garbage_bytes", f"{loud} bytes that start no reply"))
                continue
            if len(buf) < 3:
                break
            size = 5 if buf[1] & 0x80 else 5 + buf[2]
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            if crc16(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
                if not self._damaged:  # a header inside a damaged reply is not a second bad reply
                    out.append(Fault("crc_errors", f"bad CRC in {frame.hex(' ')}", reply=True))
                self._damaged = max(self._damaged, size)
                self._drop(1)  # resync inside it, silently
                continue
            out.append(frame)
            self._damaged = max(0, self._damaged - size)
            del buf[:size]
        return out

    def start_transaction(self) -> list[Fault]:
        cut = len(self._buf) - self._damaged
        faults = [Fault("length_errors", f"{cut} bytes of a cut reply")] if cut > 0 else []
        self._buf.clear()
        self._damaged = 0
        return faults

    def reset(self) -> None:
        self._buf.clear()
        self._damaged = 0


@register
class ModbusRtuProtocol(ScannerProtocol):
    key = "modbus-rtu"
    Options = ModbusOptions
    options: ModbusOptions
    polled = True

    def _count(self) -> int:
        ref = self.options.reference_register
        return 1 if ref is None else ref - self.options.address + 1

    def framer(self, baudrate: int = 9600) -> ModbusFramer:
        return ModbusFramer(self.options.slave, self.options.function)

    def poll_request(self) -> bytes:
        o = self.options
        count = self._count()
        if o.reference_register is not None and not 1 <= count <= 8:
            count = 1
        return with_crc(bytes([o.slave, o.function]) + o.address.to_bytes(2, "big") + count.to_bytes(2, "big"))

    def parse(self, message: bytes) -> Result:
        if len(message) < 5:
            return Fault("length_errors", f"reply of {len(message)} bytes")
        if message[1] & 0x80:
            code = message[2]
            return Fault("exception_replies", f"exception {code}: {EXCEPTIONS.get(code, 'unknown')}")
        data = message[3:-2]
        if len(data) < 2 or len(data) % 2:
            return Fault("length_errors", f"reply carries {len(data)} data bytes")
        o = self.options
        words = [int.from_bytes(data[i:i + 2], "big", signed=o.signed) for i in range(0, len(data), 2)]
        reference = None
        if o.reference_register is not None and len(words) > o.reference_register - o.address >= 1:
            reference = words[o.reference_register - o.address] * o.scale
        return Sample(object_c=words[0] * o.scale, reference_c=reference)

    # device side ------------------------------------------------------------
    def answer(self, request: bytes, object_c: Optional[float],
               ambient_c: Optional[float] = None) -> tuple[bytes, bytes]:
        """Answer complete 8-byte requests for our slave; skip others. Returns (reply, rest)."""
        o = self.options
        while len(request) >= 8:
            frame, rest = request[:8], request[8:]
            if frame[0] != o.slave or crc16(frame[:6]) != int.from_bytes(frame[6:], "little"):
                request = request[1:]  # not a request for us (other slaves' traffic, noise)
                continue
            if frame[1] not in (3, 4):
                return with_crc(bytes([o.slave, frame[1] | 0x80, 1])), rest
            start, count = int.from_bytes(frame[2:4], "big"), int.from_bytes(frame[4:6], "big")
            if frame[1] != o.function or not start <= o.address < start + count or count > 125:
                return with_crc(bytes([o.slave, frame[1] | 0x80, 2])), rest
            if object_c is None:
                return with_crc(bytes([o.slave, frame[1] | 0x80, 4])), rest
            words = []
            for reg in range(start, start + count):
                value = object_c if reg == o.address else (ambient_c or 0.0)
                words.append(int(round(value / o.scale)).to_bytes(2, "big", signed=o.signed))
            payload = b"".join(words)
            return with_crc(bytes([o.slave, frame[1], len(payload)]) + payload), rest
        return b"", request
